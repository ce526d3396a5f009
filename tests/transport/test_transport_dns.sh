#!/bin/sh
# test_transport_dns - mxport-transport with routes from DNS (a real NSD on
# loopback): SRV routes, the MX fallback for domains that are not forwarded,
# and DNS failures, which must defer and never bounce.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
printf 'Subject: dns test\r\n\r\nhello\r\n' >"$T_DIR/msg"

start_peer one '{}'
P1=$PEER_PORT
start_peer two '{}'
P2=$PEER_PORT
CLOSED=$(free_port)
sed -e "s/@PORT1@/$P1/" -e "s/@PORT2@/$P2/" -e "s/@CLOSED@/$CLOSED/" \
	"$MXPORT_SRCDIR/tests/transport/transport.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

conf() {
	{
		echo "dns_routes = yes"
		echo "dns_servers = 127.0.0.1:$1"
		echo "dns_timeout = 2s"
		echo "allowed_networks = 127.0.0.0/8"
		echo "mx_port = $P2"
		echo "log_file = $LOG"
		echo "connect_timeout = 2s"
	} >"$T_DIR/mxport.conf"
}
xport() {
	as_user "$TRANSPORT" -c "$T_DIR/mxport.conf" -q DNSQ -f alice@sender.test -- "$@" \
		<"$T_DIR/msg" >"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}
count() {
	ls "$1" 2>/dev/null | grep -c '^msg\.'
}

conf "$NSD_PORT"
xport bob@srvmail.test
t_eq "$RC" 0 "SRV route: delivered"
t_eq "$(count "$T_DIR/peer.one")" 1 "SRV route: the SRV port's peer got it"
t_grep "$LOG" "DNSQ: to=<bob@srvmail\.test>, relay=peer\.test\[127\.0\.0\.1\]:$P1, .*status=sent" "SRV route: relay named by SRV target and port"

xport bob@twosrv.test
t_eq "$RC" 0 "two SRV targets, first down: delivered"
t_eq "$(count "$T_DIR/peer.two")" 1 "two SRV targets: the second target's peer got it"

xport bob@gone.test
t_eq "$RC" 69 "SRV target '.': bounce"
case "$OUT" in 5.4.4*) r=0 ;; *) r=1 ;; esac
t_ok $r "SRV target '.': 5.4.4 ($OUT)"

xport bob@plain.test
t_eq "$RC" 0 "domain not forwarded: delivered by its MX"
t_eq "$(count "$T_DIR/peer.two")" 2 "domain not forwarded: MX host on mx_port got it"
t_grep "$LOG" "to=<bob@plain\.test>, relay=mx\.plain\.test\[127\.0\.0\.1\]:$P2" "MX delivery: relay is the MX host"

xport bob@nomx.test
t_eq "$RC" 0 "no MX record: delivered to the domain's own address"

xport bob@nullmx.test
t_eq "$RC" 69 "null MX: bounce"
case "$OUT" in 5.1.10*) r=0 ;; *) r=1 ;; esac
t_ok $r "null MX: 5.1.10 ($OUT)"

xport bob@nosuch.test
t_eq "$RC" 68 "NXDOMAIN, not forwarded: bounce (EX_NOHOST)"
case "$OUT" in 5.1.2*) r=0 ;; *) r=1 ;; esac
t_ok $r "NXDOMAIN: 5.1.2 ($OUT)"

xport bob@noaddr.test
t_eq "$RC" 68 "MX host without address: bounce"

# A message for a forwarded and an ordinary domain: two transactions, both delivered.
xport bob@srvmail.test carol@plain.test
t_eq "$RC" 0 "two domains in one run: both delivered"

# DNS trouble is never a bounce.
start_dnsstub servfail
conf "$STUB_PORT"
xport bob@srvmail.test
t_eq "$RC" 75 "SERVFAIL: defer"
case "$OUT" in 4.4.3*SERVFAIL*) r=0 ;; *) r=1 ;; esac
t_ok $r "SERVFAIL: 4.4.3 naming SERVFAIL ($OUT)"

start_dnsstub silent
conf "$STUB_PORT"
xport bob@srvmail.test
t_eq "$RC" 75 "DNS server silent: defer"
case "$OUT" in 4.4.3*"no answer from name server"*) r=0 ;; *) r=1 ;; esac
t_ok $r "DNS server silent: reason ($OUT)"

t_done
