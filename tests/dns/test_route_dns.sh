#!/bin/sh
# test_route_dns - mxport-route against a real NSD on loopback, and against
# servers that fail: SERVFAIL, silence, truncation. Nothing leaves 127.0.0.1.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"

ROUTE="$MXPORT_BUILDDIR/mxport-route"
start_nsd "$MXPORT_SRCDIR/tests/dns/test.zone" test.

cat >"$T_DIR/routes" <<ROUTES
both.test	[127.0.0.1]:2727
ROUTES

# conf NAME SERVERS [EXTRA] - a configuration file
conf() {
	cat >"$T_DIR/$1.conf" <<CONF
routes_file = $T_DIR/routes
dns_routes = yes
dns_servers = $2
dns_timeout = 2s
allowed_networks = 127.0.0.0/8 ::1
$3
CONF
}
conf nsd "127.0.0.1:$NSD_PORT"

# route CONF DOMAIN - run mxport-route; output in $T_DIR/out, status in $RC
route() {
	"$ROUTE" -c "$T_DIR/$1.conf" "$2" >"$T_DIR/out" 2>&1
	RC=$?
}

route nsd srv-one.test
t_eq "$RC" 0 "SRV route: exit 0"
t_grep "$T_DIR/out" "source: DNS SRV _smtp\._tcp\.srv-one\.test \(not DNSSEC secure, ttl 300\)" "SRV route: source names the SRV name, DNSSEC state and TTL"
t_grep "$T_DIR/out" "1\. pref 10 weight 0 mail\.srv-one\.test port 2525 tls may" "SRV route: target with preference, port and TLS mode"
t_grep "$T_DIR/out" "^     ::1$" "SRV route: AAAA address of the target"
t_grep "$T_DIR/out" "^     127\.0\.0\.10$" "SRV route: A address of the target"
if [ "$(grep -n '::1$' "$T_DIR/out" | cut -d: -f1)" -lt "$(grep -n '127\.0\.0\.10$' "$T_DIR/out" | cut -d: -f1)" ]; then r=0; else r=1; fi
t_ok $r "SRV route: IPv6 address listed before IPv4"

route nsd multi.test
t_eq "$RC" 0 "two SRV targets: exit 0"
t_grep "$T_DIR/out" "1\. pref 10 .*a\.multi\.test port 2525" "two SRV targets: preference 10 first"
t_grep "$T_DIR/out" "2\. pref 20 .*b\.multi\.test port 2526" "two SRV targets: preference 20 second"

route nsd null.test
t_eq "$RC" 1 "SRV target '.': exit 1"
t_grep "$T_DIR/out" "^null\.test: no service" "SRV target '.': reported as no service"

route nsd nodata.test
t_eq "$RC" 1 "NODATA: exit 1 (not forwarded)"
t_grep "$T_DIR/out" "no SRV record" "NODATA: reason says there is no SRV record"

route nsd nxdomain.test
t_eq "$RC" 1 "NXDOMAIN: exit 1 (not forwarded)"
t_grep "$T_DIR/out" "NXDOMAIN" "NXDOMAIN: reason says so"

route nsd noaddr.test
t_eq "$RC" 75 "target without address: exit 75 (mail would wait)"
t_grep "$T_DIR/out" "no address: gone\.noaddr\.test: no such domain" "target without address: named"

route nsd bücher.test
t_eq "$RC" 0 "Unicode domain: found through its A-label SRV name"
t_grep "$T_DIR/out" "_smtp\._tcp\.xn--bcher-kva\.test" "Unicode domain: A-label name asked"

route nsd both.test
t_eq "$RC" 0 "routes file wins over SRV: exit 0"
t_grep "$T_DIR/out" "source: routes file $T_DIR/routes:1" "routes file wins over SRV: source is the file and line"
t_grep "$T_DIR/out" "\[127\.0\.0\.1\] port 2727" "routes file wins over SRV: the file's target"

# The guard: without allowed_networks, loopback and private addresses are refused.
conf guard "127.0.0.1:$NSD_PORT" ""
sed -i '/^allowed_networks/d' "$T_DIR/guard.conf"
route guard private.test
t_eq "$RC" 75 "guard: route into 10/8 has no usable address: exit 75"
t_grep "$T_DIR/out" "10\.1\.2\.3 refused: 10\.1\.2\.3 is in private network 10\.0\.0\.0/8" "guard: refusal names address and range"
route guard srv-one.test
t_grep "$T_DIR/out" "::1 refused: ::1 is in loopback network ::1/128" "guard: IPv6 loopback refused"

# Failures: SERVFAIL, a server that never answers, truncation without TCP.
start_dnsstub servfail
conf servfail "127.0.0.1:$STUB_PORT"
route servfail srv-one.test
t_eq "$RC" 75 "SERVFAIL: exit 75 (temporary)"
t_grep "$T_DIR/out" "SERVFAIL" "SERVFAIL: named in the reason"

start_dnsstub refused
conf refused "127.0.0.1:$STUB_PORT"
route refused srv-one.test
t_eq "$RC" 75 "REFUSED: exit 75 (temporary)"

start_dnsstub silent
SILENT_PORT=$STUB_PORT
conf silent "127.0.0.1:$SILENT_PORT"
start=$(now_ms)
route silent srv-one.test
elapsed=$(($(now_ms) - start))
t_eq "$RC" 75 "server that never answers: exit 75"
t_grep "$T_DIR/out" "no answer from name server 127\.0\.0\.1 port $SILENT_PORT" "server that never answers: named in the reason"
if [ "$elapsed" -le 3000 ]; then r=0; else r=1; fi
t_ok $r "server that never answers: gave up within dns_timeout (2s) plus slack: ${elapsed} ms"

start_dnsstub truncate
conf truncate "127.0.0.1:$STUB_PORT"
route truncate srv-one.test
t_eq "$RC" 75 "truncated answer and no TCP: exit 75"

# A second server answers when the first is silent.
conf failover "127.0.0.1:$SILENT_PORT, 127.0.0.1:$NSD_PORT"
route failover srv-one.test
t_eq "$RC" 0 "first server silent, second answers: forwarded"

# dns_route_prefix: another name for the SRV records; dns_attempts bounds the asking.
conf prefix "127.0.0.1:$NSD_PORT" "dns_route_prefix = _mail._tcp"
route prefix prefix.test
t_eq "$RC" 0 "dns_route_prefix = _mail._tcp: route found there"
t_grep "$T_DIR/out" "source: DNS SRV _mail\._tcp\.prefix\.test" "dns_route_prefix: the name asked"
route prefix srv-one.test
t_eq "$RC" 1 "dns_route_prefix = _mail._tcp: records under _smtp._tcp are not used"
conf attempts "127.0.0.1:$SILENT_PORT" "dns_attempts = 1"
start=$(now_ms)
route attempts srv-one.test
elapsed=$(($(now_ms) - start))
t_eq "$RC" 75 "dns_attempts = 1: a silent server is still a temporary failure"
if [ "$elapsed" -le 3000 ]; then r=0; else r=1; fi
t_ok $r "dns_attempts = 1: within dns_timeout (${elapsed} ms)"

# dns_routes = no: SRV records are not consulted.
conf nodns "127.0.0.1:$NSD_PORT" ""
sed -i 's/^dns_routes = yes/dns_routes = no/' "$T_DIR/nodns.conf"
route nodns srv-one.test
t_eq "$RC" 1 "dns_routes = no: SRV-only domain not forwarded"

t_done
