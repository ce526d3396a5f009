#!/bin/sh
# demo.sh - build mxport and show route lookups on this machine, with a
# private NSD on 127.0.0.1 serving an SRV route. Needs root for apt-get
# (skip it with MXPORT_NO_APT=1 when the packages are already there).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ -z "${MXPORT_NO_APT:-}" ]; then
	echo "== installing build and demo packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
	apt-get install -y -q --no-install-recommends build-essential autoconf automake \
		libtool pkg-config libmilter-dev libldns-dev libssl-dev libidn2-dev \
		libcmocka-dev ldnsutils nsd python3 >/dev/null
fi

echo "== building"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
[ -f Makefile ] || ./configure -q
make -j"$(nproc)" mxport-route >/dev/null

MXPORT_BUILDDIR=$top MXPORT_SRCDIR=$top
export MXPORT_BUILDDIR MXPORT_SRCDIR
. "$top/tests/lib/harness.sh"
T_FAILED=1 # keep the demo's files for a look afterwards

start_nsd "$top/tests/dns/test.zone" test.
cat >"$T_DIR/routes" <<ROUTES
# the customer's server listens on port 2525 of a host behind a port-25 block
home.example    [127.0.0.1]:2525
ROUTES
cat >"$T_DIR/mxport.conf" <<CONF
routes_file = $T_DIR/routes
dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
# the demo's servers are on loopback, which the guard refuses by default
allowed_networks = 127.0.0.0/8, ::1
CONF

echo "== $T_DIR/mxport.conf"
cat "$T_DIR/mxport.conf"
echo "== $T_DIR/routes"
cat "$T_DIR/routes"
echo "== SRV record served by NSD on 127.0.0.1:$NSD_PORT"
drill -p "$NSD_PORT" @127.0.0.1 SRV _smtp._tcp.multi.test | grep -E '^_smtp'
echo
for domain in home.example multi.test null.test nowhere.test; do
	echo "\$ mxport-route -c $T_DIR/mxport.conf $domain"
	"$top/mxport-route" -c "$T_DIR/mxport.conf" "$domain" && rc=0 || rc=$?
	echo "(exit $rc)"
	echo
done
