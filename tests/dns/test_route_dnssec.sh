#!/bin/sh
# test_route_dnssec - routes through a validating unbound in front of NSD
# serving a signed zone: secure answers are reported as such, a tampered
# record is SERVFAIL, which must be a temporary failure, never "not forwarded".
. "$MXPORT_SRCDIR/tests/lib/harness.sh"

ROUTE="$MXPORT_BUILDDIR/mxport-route"
sign_zone "$MXPORT_SRCDIR/tests/dns/test.zone" test. "$T_DIR/test.signed"
# Tamper with one signed record: the SRV of srv-one now points at another port.
sed -i 's/^\(_smtp\._tcp\.srv-one\.test\..*SRV\t10 0\) 2525 /\1 2999 /' "$T_DIR/test.signed"
grep -q 'SRV	10 0 2999 mail.srv-one' "$T_DIR/test.signed" || { echo "Bail out! tampering failed"; exit 99; }
start_nsd "$T_DIR/test.signed" test.
start_unbound "$T_DIR/test.signed.ds" test.

cat >"$T_DIR/mxport.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$UNBOUND_PORT
dns_trust_ad = yes
allowed_networks = 127.0.0.0/8
CONF
cat >"$T_DIR/untrusted.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$UNBOUND_PORT
allowed_networks = 127.0.0.0/8
CONF
cat >"$T_DIR/direct.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
allowed_networks = 127.0.0.0/8
CONF

"$ROUTE" -c "$T_DIR/mxport.conf" multi.test >"$T_DIR/out" 2>&1
t_eq "$?" 0 "signed zone via validator: forwarded"
t_grep "$T_DIR/out" "source: DNS SRV _smtp\._tcp\.multi\.test \(DNSSEC secure" "signed zone via validator: SRV answer is DNSSEC secure"
t_grep "$T_DIR/out" "addresses are DNSSEC secure" "signed zone via validator: target addresses are DNSSEC secure"

"$ROUTE" -c "$T_DIR/untrusted.conf" multi.test >"$T_DIR/out" 2>&1
t_eq "$?" 0 "validator not marked trusted (dns_trust_ad = no): still forwarded"
t_grep "$T_DIR/out" "source: DNS SRV _smtp\._tcp\.multi\.test \(not DNSSEC secure" "dns_trust_ad = no: the validator's AD bit is not believed"
if grep -q "addresses are DNSSEC secure" "$T_DIR/out"; then r=1; else r=0; fi
t_ok $r "dns_trust_ad = no: addresses not shown as secure either"

# dns_trust_ad = yes with a server that is not on loopback: refused at start.
printf 'dns_routes = yes\ndns_servers = 192.0.2.53\ndns_trust_ad = yes\n' >"$T_DIR/remote.conf"
"$ROUTE" -c "$T_DIR/remote.conf" multi.test >"$T_DIR/out" 2>&1
t_eq "$?" 78 "dns_trust_ad = yes with a remote server: configuration error (exit 78)"
t_grep "$T_DIR/out" "dns_trust_ad = yes, but name server 192\.0\.2\.53 is not on loopback" "dns_trust_ad with a remote server: the error names the server"

"$ROUTE" -c "$T_DIR/mxport.conf" srv-one.test >"$T_DIR/out" 2>&1
t_eq "$?" 75 "tampered SRV record: temporary failure (exit 75), not a bounce"
t_grep "$T_DIR/out" "SERVFAIL" "tampered SRV record: validator's SERVFAIL named"

"$ROUTE" -c "$T_DIR/direct.conf" multi.test >"$T_DIR/out" 2>&1
t_grep "$T_DIR/out" "not DNSSEC secure" "authoritative server without validation: not reported as secure"

t_done
