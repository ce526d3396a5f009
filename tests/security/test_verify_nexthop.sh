#!/bin/sh
# test_verify_nexthop - recipient verification cannot be turned against
# other customers (issue 18, findings 1 and 2, and the LRU suspicion), on
# the socketmap as mxport-milter runs it by default:
#   1. an outsider's 1,000 domains with SRV records (NSD) pointing at 20
#      servers that stall after RCPT hold at most the DNS routes' share (32
#      callouts, 2 a server, each held up to 20 s); meanwhile a customer of the routes file gets
#      his real user verified (OK DUNNO), not "not asked" (451 4.4.1 with
#      verify_unreachable = tempfail); on the old code every customer was
#      "not asked" while 64 domains were held;
#   2. the same 1,000 domains pointing at one customer's server (a
#      dictionary attack through DNS routes): at most half of
#      verify_server_rate reach it in the minute; the customer's own users
#      are still asked and answered meanwhile (measured, printed);
#   3. twelve subdomains of one wildcard route with a stalling server: at
#      most 4 callouts reach it (the route and the server are one next
#      hop; the old code gave each subdomain its own 4);
#   4. a server that fails (421 greeting) is remembered down per server:
#      another subdomain of its wildcard route does not connect again;
#   5. accepted recipients survive a flood of unknown ones (the old cache
#      was one LRU: 120 refusals pushed a real user out).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 setpriv nsd drill

PROBE="$MXPORT_SRCDIR/tests/lib/sockprobe.py"
PY=/usr/bin/python3 # the system python: user postfix cannot reach root's own (pyenv)
need "$PY"
SM="$T_DIR/run/socketmap.sock"

# lookup KEY - the verify table's answer, asked as user postfix
lookup() {
	setpriv --reuid=postfix --regid=postfix --init-groups -- "$PY" "$PROBE" socketmap "$SM" verify "$1"
}
# burst THREADS - the keys on stdin, looked up THREADS at once, as user postfix
burst() {
	setpriv --reuid=postfix --regid=postfix --init-groups -- "$PY" "$PROBE" burst "$SM" verify "$1"
}
# rcpt_sessions DIR REGEX - sessions of a peer that asked RCPT for a matching recipient
rcpt_sessions() {
	cat "$1"/session.* 2>/dev/null | grep -c "^RCPT TO:<$2"
}
lines_at_least() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

start_peer cust '{"rcpt_match": [["(nobody|rand).*", "550 5.1.1 no such user"]]}'
PC=$PEER_PORT
CUST=$PEER_DIR
start_peer stw '{"delay": {"rcpt": 60}}'
PSTW=$PEER_PORT
STW=$PEER_DIR
start_peer gw '{"greeting": "421 4.3.2 Service not available"}'
PGW=$PEER_PORT
GW=$PEER_DIR
start_peer cache '{"rcpt_match": [["nobody.*", "550 5.1.1 no such user"]]}'
PCA=$PEER_PORT
CA=$PEER_DIR
TARPITS=""
for k in $(seq 1 20); do # (start_peer's wait_for uses $i)
	start_peer "tarpit$k" '{"delay": {"rcpt": 60}}'
	TARPITS="$TARPITS $PEER_PORT"
done

# The attacker's zone: e1..e1000 to the tarpits, d1..d1000 to the customer's server.
{
	echo '$ORIGIN evil.test.'
	echo '$TTL 300'
	echo '@ SOA ns.evil.test. hostmaster.evil.test. 1 3600 600 86400 60'
	echo '@ NS ns.evil.test.'
	echo 'ns A 127.0.0.1'
	echo 't A 127.0.0.1'
	set -- $TARPITS
	i=1
	while [ $i -le 1000 ]; do
		eval "port=\${$((i % 20 + 1))}"
		echo "_smtp._tcp.e$i SRV 10 0 $port t.evil.test."
		echo "_smtp._tcp.d$i SRV 10 0 $PC t.evil.test."
		i=$((i + 1))
	done
} >"$T_DIR/evil.zone"
start_nsd "$T_DIR/evil.zone" evil.test.

PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="verify_timeout = 20s
verify_unreachable = tempfail
verify_recipients = yes
verify_server_rate = 400
verify_route_rate = 1000
verify_cache_size = 50
dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
dns_timeout = 3s"
setup_mxport "vr.example [127.0.0.1]:$PC verify=yes
.stw.example [127.0.0.1]:$PSTW verify=yes
.gw.example [127.0.0.1]:$PGW verify=yes
cache.example [127.0.0.1]:$PCA verify=yes"
start_milter

t_eq "$(lookup alice@vr.example)" "OK DUNNO" "before the attack: a customer's real user passes"

# --- 1. 1,000 attacker domains, SRV to 20 tarpits ---------------------------
i=1
while [ $i -le 1000 ]; do
	echo "u$i@e$i.evil.test"
	i=$((i + 1))
done >"$T_DIR/keys.e"
burst 100 <"$T_DIR/keys.e" >"$T_DIR/burst.e" 2>"$T_DIR/burst.e.err" &
BURST=$!
# the callouts that were let through are held; all the others are answered
wait_until 60 lines_at_least "$T_DIR/burst.e" 900
t0=$(now_ms)
r=$(lookup bob@vr.example)
ms=$(($(now_ms) - t0))
t_eq "$r" "OK DUNNO" "while 1,000 attacker domains hold callouts: another customer's real user is verified (${ms} ms)"
r=$(lookup nobody1@vr.example)
t_eq "$r" "OK 550 5.1.1 no such user" "... and his unknown user refused (verification on, not 451)"
wait "$BURST"
held=$(cat "$T_DIR"/peer.tarpit*/session.* 2>/dev/null | grep -c '^RCPT TO:<u')
most=$(for d in "$T_DIR"/peer.tarpit*; do rcpt_sessions "$d" u; done | sort -n | tail -1)
t_ok "$([ "$held" -le 32 ]; echo $?)" "attacker's 1,000 domains: $held callouts reached the tarpits (at most 32)"
t_ok "$([ "$most" -le 2 ]; echo $?)" "... at most 2 on one tarpit ($most)"
t_eq "$(wc -l <"$T_DIR/burst.e")" 1000 "every attacker lookup answered"
t_eq "$(grep -vc "	OK 451 4\\.4\\.1 " "$T_DIR/burst.e")" 0 "... each unverifiable (451 with tempfail)"
echo "# measure: 1,000 SRV domains at 20 tarpits: $held callouts held; a customer's user answered in ${ms} ms"

# --- 2. the same domains at one customer's server: a dictionary attack ----------
i=1
while [ $i -le 1000 ]; do
	echo "rand$i@d$i.evil.test"
	i=$((i + 1))
done >"$T_DIR/keys.d"
burst 50 <"$T_DIR/keys.d" >"$T_DIR/burst.d" 2>"$T_DIR/burst.d.err" &
BURST=$!
wait_until 60 lines_at_least "$T_DIR/burst.d" 300
t0=$(now_ms)
r=$(lookup carol@vr.example)
ms=$(($(now_ms) - t0))
r2=$(lookup nobody2@vr.example)
wait "$BURST"
n1=$(rcpt_sessions "$CUST" rand)
t_ok "$([ "$n1" -le 400 ]; echo $?)" "1,000 attacker domains at one customer's server, 50 at once: $n1 callouts (2 at once)"
# the same, 2 at once (the bound of what is in progress): the rate bounds it
i=1001
while [ $i -le 1300 ]; do
	echo "rand$i@d$((i - 1000)).evil.test"
	i=$((i + 1))
done | burst 2 >"$T_DIR/burst.d2" 2>&1
n=$(rcpt_sessions "$CUST" rand)
# (the rate is counted per minute of the clock: the test may straddle two)
t_ok "$([ "$n" -le 400 ]; echo $?)" "1,000 attacker domains at one customer's server: $n callouts (at most verify_server_rate/2 = 200 a minute)"
t_eq "$r" "OK DUNNO" "... meanwhile the customer's real user is verified (${ms} ms)"
t_eq "$r2" "OK 550 5.1.1 no such user" "... and his unknown user refused"
t_ok "$([ "$(grep -c 'callouts to the server in this minute (verify_server_rate, halved' "$MXLOG")" -ge 1 ]; echo $?)" \
	"the server rate named in the log lines of those not asked"
t_ok "$([ "$(grep -c 'bound reached: verify_server_rate' "$MXLOG")" -le 2 ]; echo $?)" \
	"the bound's warning: once a minute, not per recipient"
echo "# measure: 1,000 SRV domains at one customer's server: $n callouts; the customer's user: $r in ${ms} ms"

# --- 3. subdomains of one wildcard route: one next hop ------------------------
i=1
while [ $i -le 12 ]; do
	echo "u@h$i.stw.example"
	i=$((i + 1))
done | burst 12 >"$T_DIR/burst.stw" 2>&1
n=$(rcpt_sessions "$STW" u@h)
t_ok "$([ "$n" -le 4 ]; echo $?)" "12 subdomains of a wildcard route, stalling server: $n callouts (at most 4)"
t_eq "$(grep -c "	OK 451 4\\.4\\.1 " "$T_DIR/burst.stw")" 12 "... each unverifiable (451)"

# --- 4. the down mark is the server's -----------------------------------------
lookup u@h1.gw.example >"$T_DIR/gw1" 2>&1
t_grep "$T_DIR/gw1" "^OK 451 4\\.4\\.1 " "a server that answers 421: unverifiable"
lookup u@h2.gw.example >"$T_DIR/gw2" 2>&1
t_grep "$T_DIR/gw2" "^OK 451 4\\.4\\.1 " "another subdomain of its route: unverifiable"
t_eq "$(ls "$GW" | grep -c '^session\.')" 1 "... from the server's down mark: no second connection"

# --- 5. accepted recipients are not pushed out by unknown ones -----------------
t_eq "$(lookup alice@cache.example)" "OK DUNNO" "a real user passes (and is kept)"
i=1
while [ $i -le 120 ]; do
	echo "nobody$i@cache.example"
	i=$((i + 1))
done | burst 4 >"$T_DIR/burst.cache" 2>&1
t_eq "$(grep -c "	OK 550 5\\.1\\.1 " "$T_DIR/burst.cache")" 120 "120 unknown users refused (verify_cache_size = 50)"
t_eq "$(lookup alice@cache.example)" "OK DUNNO" "the real user passes again"
t_eq "$(rcpt_sessions "$CA" alice@)" 1 "... from the cache: the refusals did not push it out"

kill -0 "$MILTER_PID"
t_ok $? "mxport-milter still running"
t_done
