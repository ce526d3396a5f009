#!/bin/sh
# demo.sh - mxport's main job on this machine, on loopback only:
#   a private Postfix with contrib/postfix pasted in (the default path: the
#   relay check and transport_maps ask mxport-milter's socketmap, the LMTP
#   daemon mxport-transport -L delivers), a local
#   DNS server (NSD) publishing an SRV route with a port, and a stand-in for
#   the customer's home server on that alternate port. A test message goes
#   to the relay on SMTP; the demo prints the log lines and the message as
#   the customer's server received it.
# Run as root on Debian 12. MXPORT_NO_APT=1 skips the package install.
# Exits 0 when the message reached the customer's server, 1 otherwise.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ -z "${MXPORT_NO_APT:-}" ]; then
	echo "== installing packages (tests/install-deps.sh: the list in tests/deps.txt)"
	sh tests/install-deps.sh build autotools suite
fi

echo "== building"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
[ -f Makefile ] || ./configure -q
make -j"$(nproc)" mxport-route mxport-transport mxport-milter >/dev/null

MXPORT_BUILDDIR=$top MXPORT_SRCDIR=$top
export MXPORT_BUILDDIR MXPORT_SRCDIR
. "$top/tests/lib/harness.sh"
. "$top/tests/lib/postfix.sh"
T_FAILED=1 # keep the demo's files for a look afterwards

echo "== the customer's home server: an SMTP server on 127.0.0.1, alternate port"
start_peer home '{}'
HOME_PORT=$PEER_PORT
HOME_DIR=$PEER_DIR
echo "   listening on 127.0.0.1:$HOME_PORT"

echo "== DNS: NSD on 127.0.0.1 publishes the route as an SRV record"
cat >"$T_DIR/zone" <<ZONE
\$ORIGIN test.
\$TTL 300
@	SOA	ns.test. hostmaster.test. 1 3600 600 86400 60
@	NS	ns.test.
ns	A	127.0.0.1
_smtp._tcp.home	SRV	10 0 $HOME_PORT mail.home.test.
mail.home	A	127.0.0.1
ZONE
start_nsd "$T_DIR/zone" test.
drill -p "$NSD_PORT" @127.0.0.1 SRV _smtp._tcp.home.test | grep -E '^_smtp' | sed 's/^/   /'

echo "== the relay: private Postfix + contrib/postfix + mxport-milter (socketmap) + the LMTP daemon"
PF_PORT=$(free_port)
MXPORT_CONTRIB=default
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT"
setup_mxport "# routes come from DNS in this demo"
start_milter
start_lmtp
start_postfix "$(free_port)"
echo "   Postfix smtpd on 127.0.0.1:$PF_PORT, files in $T_DIR"
echo
echo "\$ mxport-route home.test"
"$T_DIR/bin/mxport-route" -c "$T_DIR/etc/mxport.conf" home.test | sed 's/^/  /'

echo
echo "== sending a message to bob@home.test through the relay"
send_mail alice@sender.test bob@home.test | sed 's/^/   /'
wait_until 20 have_msgs "$HOME_DIR" 1 || { echo "not delivered: see $PF/maillog"; exit 1; }

echo
echo "== Postfix's log ($PF/maillog)"
grep -E 'postfix/(smtpd|cleanup|lmtp|pipe|qmgr).*: [0-9A-F]{6,}:' "$PF/maillog" | sed 's/^/   /'
echo "== mxport's log ($MXLOG)"
grep -v 'started:' "$MXLOG" | sed 's/^/   /'
echo "== what the customer's server received on port $HOME_PORT"
sed 's/^/   /' "$HOME_DIR/env.1"
echo
tr -d '\r' <"$HOME_DIR/msg.1" | sed 's/^/   | /'

# The harness's exit trap stops the servers and waits for them, and a server
# stopped by SIGTERM reports 143: that is the demo ending, not a failure.
set +e
exit 0
