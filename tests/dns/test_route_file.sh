#!/bin/sh
# test_route_file - mxport-route with the routes file only, and the -n check
# of configuration and routes file.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"

ROUTE="$MXPORT_BUILDDIR/mxport-route"

cat >"$T_DIR/routes" <<'ROUTES'
# domain        targets
example.com     [127.0.0.1]:2525
example.net     20 [127.0.0.3]:2527, 10 [127.0.0.2]:2526 tls=encrypt
.example.org    [::1]:2528
example.io      smtps://[127.0.0.4]
gone.example    .
ROUTES
cat >"$T_DIR/good.conf" <<CONF
routes_file = $T_DIR/routes
allowed_networks = 127.0.0.0/8, ::1
# no DNS server runs in this test: a lookup that reached DNS would fail
dns_servers = 127.0.0.1:9
CONF

route() {
	"$ROUTE" -c "$T_DIR/$1.conf" "$2" >"$T_DIR/out" 2>&1
	RC=$?
}

"$ROUTE" -c "$T_DIR/good.conf" -n >"$T_DIR/out" 2>&1
t_eq "$?" 0 "-n: a good configuration passes"

route good example.com
t_eq "$RC" 0 "routes file: exit 0"
t_grep "$T_DIR/out" "source: routes file $T_DIR/routes:2" "routes file: source names file and line"
t_grep "$T_DIR/out" "1\. pref 0 weight 0 \[127\.0\.0\.1\] port 2525 tls may" "routes file: target and default TLS mode"

route good EXAMPLE.NET.
t_eq "$RC" 0 "routes file: case and trailing dot do not matter"
t_grep "$T_DIR/out" "1\. pref 10 .*\[127\.0\.0\.2\] port 2526 tls encrypt" "routes file: preference 10 first, with its tls="
t_grep "$T_DIR/out" "2\. pref 20 .*\[127\.0\.0\.3\] port 2527" "routes file: preference 20 second"

route good deep.sub.example.org
t_eq "$RC" 0 "routes file: .parent entry covers subdomains"
route good example.org
t_eq "$RC" 1 "routes file: .parent entry does not cover the parent itself"

route good example.io
t_grep "$T_DIR/out" "smtps://\[127\.0\.0\.4\] port 465 tls may \(implicit\)" "routes file: smtps:// defaults to port 465, implicit TLS"

route good gone.example
t_eq "$RC" 1 "null route: exit 1"
t_grep "$T_DIR/out" "^gone\.example: no service" "null route: reported as no service"

route good other.example
t_eq "$RC" 1 "unlisted domain, dns_routes = no: exit 1"
t_grep "$T_DIR/out" "not forwarded" "unlisted domain: not forwarded"

"$ROUTE" -c "$T_DIR/good.conf" example.com gone.example >"$T_DIR/out" 2>&1
t_eq "$?" 1 "two domains: the worse status wins"

# Bad configuration: every error listed with file and line, exit 78.
cat >"$T_DIR/badroutes" <<'ROUTES'
ok.example [127.0.0.1]:2525
nopport.example mail.example
ok.example [127.0.0.1]:2526
ROUTES
cat >"$T_DIR/bad.conf" <<CONF
routes_file = $T_DIR/badroutes
tls_mode = sometimes
dns_timeout = forever
CONF
"$ROUTE" -c "$T_DIR/bad.conf" -n >"$T_DIR/out" 2>&1
t_eq "$?" 78 "-n: bad configuration exits 78"
t_grep "$T_DIR/out" "bad\.conf:2: tls_mode: 'sometimes' is not one of" "-n: bad value named with file, line and key"
t_grep "$T_DIR/out" "bad\.conf:3: dns_timeout: 'forever' is not a time" "-n: second bad value also listed"
"$ROUTE" -c "$T_DIR/bad.conf" example.com >"$T_DIR/out" 2>&1
t_eq "$?" 78 "a lookup with a bad configuration exits 78"

sed -i '/tls_mode/d; /dns_timeout/d' "$T_DIR/bad.conf"
"$ROUTE" -c "$T_DIR/bad.conf" -n >"$T_DIR/out" 2>&1
t_eq "$?" 78 "-n: bad routes file exits 78"
t_grep "$T_DIR/out" "badroutes:2: 'mail\.example': no port" "-n: routes file error names file and line"
t_grep "$T_DIR/out" "badroutes:3: ok\.example: already routed on line 1" "-n: duplicate domain names both lines"

echo "routes_file = $T_DIR/nonexistent" >"$T_DIR/missing.conf"
"$ROUTE" -c "$T_DIR/missing.conf" -n >"$T_DIR/out" 2>&1
t_eq "$?" 78 "-n: missing routes file exits 78"
t_grep "$T_DIR/out" "nonexistent: cannot open routes file" "-n: missing routes file named"

"$ROUTE" -c "$T_DIR/nonexistent.conf" -n >"$T_DIR/out" 2>&1
t_eq "$?" 78 "-n: missing configuration file exits 78"

# --export: the routes file as static map sources
"$ROUTE" -c "$T_DIR/good.conf" --export sendmail-mailertable >"$T_DIR/mt" 2>"$T_DIR/mt.err"
t_eq "$?" 0 "--export sendmail-mailertable: exit 0"
t_grep "$T_DIR/mt" "^example\.com	mxport:example\.com$" "--export sendmail-mailertable: a domain routes to mailer:domain"
t_grep "$T_DIR/mt" "^\.example\.org	mxport:example\.org$" "--export sendmail-mailertable: a subdomain entry keeps its leading dot"
t_nogrep "$T_DIR/mt" "^gone\.example" "--export sendmail-mailertable: a null route is not routed"
t_eq "$(grep -vc '^#' "$T_DIR/mt")" 4 "--export sendmail-mailertable: one line per forwarded entry"
"$ROUTE" -c "$T_DIR/good.conf" --export sendmail-access >"$T_DIR/acc" 2>"$T_DIR/acc.err"
t_eq "$?" 0 "--export sendmail-access: exit 0"
t_grep "$T_DIR/acc" "^To:example\.io	RELAY$" "--export sendmail-access: To:domain RELAY"
t_nogrep "$T_DIR/acc" "^To:.*example\.org" "--export sendmail-access: no entry for a subdomain entry (relay_hosts_only)"
t_grep "$T_DIR/acc.err" "1 subdomain entry of .*routes cannot be expressed" "--export sendmail-access: ... and a warning says so"
t_nogrep "$T_DIR/acc" "gone\.example	" "--export sendmail-access: a null route is not relayed"
"$ROUTE" -c "$T_DIR/good.conf" --export domains >"$T_DIR/dom" 2>&1
t_eq "$(grep -v '^#' "$T_DIR/dom" | tr '\n' ' ')" "example.com example.io example.net .example.org " "--export domains: the forwarded domains"
"$ROUTE" -c "$T_DIR/good.conf" --export bogus >"$T_DIR/out" 2>&1
t_eq "$?" 64 "--export: an unknown format exits 64"
"$ROUTE" -c "$T_DIR/bad.conf" --export domains >"$T_DIR/out" 2>&1
t_eq "$?" 78 "--export: a bad routes file exits 78, nothing exported"
t_nogrep "$T_DIR/out" "^To:|^ok\.example" "--export: ... and writes no entries"

t_done
