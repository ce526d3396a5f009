#!/bin/sh
# test_fleet - several relays, one service, end to end (issue 22): three
# private Postfix relays on loopback, each a stock Debian Postfix set up by
# `mxport-setup postfix` (the default variant: socketmap and the LMTP
# daemon), each with its own mxport-milter (socketmap) and LMTP daemon, all
# with shared_state pointing at one memcached (Debian's, on a loopback
# port); the customers' servers are the scripted SMTP peer; the contact's
# notices go to the notice sink (tests/lib/transport.sh).
#   1. the customer's server down past notify_after while all three relays
#      hold its mail: exactly one outage notice for the fleet, one recovery
#      notice once it is back, every recipient delivered once (and for a
#      domain whose mail only one relay holds: one notice, as before);
#   2. a callout (verify=yes) answered once serves all three relays;
#   3. memcached killed in the middle of a run: no mail waits for a retry,
#      none is lost, each relay logs the fallback (and calls out on its
#      own), and sharing resumes when memcached is back;
#   4. the fleet view: each relay's `mxport-queue --json`, collected, and
#      `mxport-queue --fleet` over the files: one table, which relay holds
#      what; and `mxport-queue --metrics` against the real queue (promtool);
#   5. relay 1's own metrics (the LMTP daemon's textfile) after the run:
#      promtool passes, and its delivered counters agree with what the
#      customers' servers took from it.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix_stock.sh"
. "$MXPORT_SRCDIR/tests/lib/transport.sh"
. "$MXPORT_SRCDIR/tests/lib/memcached.sh"
need python3 postfix postconf postqueue postalias setpriv ip promtool

ROOT=$T_DIR
OUTSIDE=198.18.$(($$ % 250)).$(($$ / 250 % 250 + 1))
outside_address "$OUTSIDE"
NOTICES="$ROOT/notices"
mkdir -p "$NOTICES"
notice_sink
ensure_user mxport
chown mxport "$NOTICES"
memcached_start

# The customers' servers: cust.example's is down (nothing on DOWN) until
# part 1 starts it; v.example (verify=yes) and up.example share one peer.
DOWN=$(free_port)
DOWN1=$(free_port) # one.example's server, down too: only relay 2 holds its mail
start_peer custv '{"rcpt_match": [["nobody.*", "550 5.1.1 no such user"]]}'
PV=$PEER_PORT
V="$PEER_DIR"
ROUTES="cust.example [127.0.0.1]:$DOWN notify=owner@contact.test
one.example [127.0.0.1]:$DOWN1 notify=owner@contact.test
v.example [127.0.0.1]:$PV verify=yes
up.example [127.0.0.1]:$PV
.sub.example [127.0.0.1]:$DOWN"

# relay_prepare N - relay N's mxport.conf, its stock Postfix started and
# set up by mxport-setup, in its folder $ROOT/rN (what the helpers call
# T_DIR), as test_postfix_default sets one relay up, with the fleet's
# shared_state. Run in a subshell, the three at once (mxport-setup takes
# seconds): the subshell's exit status says how it went.
relay_prepare() {
	trap - EXIT
	r=$1
	T_DIR=$ROOT/r$r
	eval "PF_PORT=\$PORT_$r"
	# shared_state_timeout 1 s, not 150 ms: on the loaded test machine a
	# slow answer must not count as memcached lost (a killed one refuses at once)
	MXPORT_EXTRA_CONF="notify_after = 3s
state_directory = $T_DIR/state
sendmail_path = $ROOT/sendmail
helo_name = relay$r.test
verify_timeout = 5s
shared_state = memcache:127.0.0.1:$MC_PORT
shared_state_timeout = 1000
shared_state_retry = 2s"
	# relay 1 also counts (metrics_file), its LMTP listener writing the textfile
	[ "$r" = 1 ] && MXPORT_EXTRA_CONF="$MXPORT_EXTRA_CONF
metrics_file = $T_DIR/state/metrics
metrics_textfile = $T_DIR/state/mxport.prom
metrics_interval = 1s"
	setup_mxport "$ROUTES"
	mkdir -p "$T_DIR/state"
	chown mxport "$T_DIR/etc/mxport.conf" "$T_DIR/state"
	stock_postfix_config
	postconf -c "$PF/etc" -e "myhostname=relay$r.test" \
		"transport_maps=inline:{ { sender.test = smtp:[127.0.0.1]:$PV } }"
	stock_postfix_start
	"$MXPORT_BUILDDIR/setup/mxport-setup" postfix -c "$PF/etc" --mxport-conf "$T_DIR/etc/mxport.conf" \
		--transport "$T_DIR/bin/mxport-transport" >"$T_DIR/setup.out" 2>&1
}
# relay_daemons N - relay N's mxport-milter (the socketmap) and LMTP
# daemon, as the setup says to start them, and Postfix reloaded
relay_daemons() {
	r=$1
	T_DIR=$ROOT/r$r
	PF=$T_DIR/postfix
	sock="$PF/queue/mxport"
	"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport -P "$T_DIR/run/milter.pid" \
		>>"$T_DIR/milter.stderr" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "relay $r: mxport-milter socketmap" test -S "$sock/socketmap.sock"
	setpriv --reuid=mxport --regid=mxport --groups="$(id -G mxport | tr ' ' ,),$(getent group postfix | cut -d: -f3)" -- \
		"$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -L "unix:$sock/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "relay $r: LMTP daemon" test -S "$sock/lmtp.sock"
	n=$(grep -c 'reload -- version' "$PF/maillog")
	postfix -c "$PF/etc" reload >/dev/null 2>&1
	wait_until 20 sh -c "[ \$(grep -c 'reload -- version' '$PF/maillog') -gt $n ]"
	eval "PF_$r=\$PF"
	T_DIR=$ROOT
}
PREP=""
for r in 1 2 3; do
	mkdir -p "$ROOT/r$r"
	chmod 755 "$ROOT/r$r"
	eval "PORT_$r=$(free_port)"
	T_STOP="${T_STOP:-} postfix -c $ROOT/r$r/postfix/etc stop;"
	(relay_prepare $r) >"$ROOT/r$r/prepare.out" 2>&1 &
	PREP="$PREP $!"
done
r=0
for pid in $PREP; do
	r=$((r + 1))
	wait "$pid"
	rc=$?
	t_ok $rc "relay $r: a stock Postfix, set up by mxport-setup postfix (the default variant)"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$ROOT/r$r/prepare.out" "$ROOT/r$r/setup.out"
done
for r in 1 2 3; do relay_daemons $r; done
t_grep "$ROOT/r1/setup.out" "set up for mxport \(tmaps-lmtp\)" "the default variant: socketmap and the LMTP daemon"
cp "$MXPORT_BUILDDIR/mxport-queue" "$ROOT/r1/bin/mxport-route" "$ROOT/"
MXPORT_ROUTE="$ROOT/mxport-route"
export MXPORT_ROUTE

# pf N - relay N's Postfix config directory
pf() {
	eval "echo \$PF_$1"
}
# send N FROM RCPT - one message by SMTP to relay N, from outside its mynetworks
send() {
	eval "port=\$PORT_$1"
	SENDMSG_SOURCE=$OUTSIDE python3 "$MXPORT_SRCDIR/tests/lib/sendmsg.py" 127.0.0.1 "$port" "$2" "$3"
}
# rlog N PATTERN - lines of relay N's mxport log that match
rlog() {
	grep -Ec -- "$2" "$ROOT/r$1/mxport.log"
}
# rlogs PATTERN - lines that match in the three relays' logs
rlogs() {
	echo $(($(rlog 1 "$1") + $(rlog 2 "$1") + $(rlog 3 "$1")))
}
rlogs_ge() {
	[ "$(rlogs "$1")" -ge "$2" ]
}
# notices PATTERN - notices at the contact's sink whose Subject matches
notices() {
	cat "$NOTICES"/notice.*.eml 2>/dev/null | grep -c "^Subject: $1"
}
notices_ge() {
	[ "$(notices "$1")" -ge "$2" ]
}
# rcpts DIR DOMAIN - the recipients of DOMAIN a peer took, one a line, sorted
rcpts() {
	cat "$1"/env.* 2>/dev/null | tr -d '\r' | sed -n "s/^RCPT TO:<\(.*@$2\)>.*/\1/p" | sort
}
rcpts_n() {
	[ "$(rcpts "$1" "$2" | wc -l)" -ge "$3" ]
}
# callouts USER - the verify sessions (no DATA) at the peer that asked for USER
callouts() {
	for f in "$V"/session.*; do
		[ -e "$f" ] || continue
		tr -d '\r' <"$f" | grep -q "^RCPT TO:<$1>" || continue
		tr -d '\r' <"$f" | grep -q '^DATA' || echo "$f"
	done | wc -l
}
# queued N - relay N's queue holds nothing
queue_empty_on() {
	[ "$(postqueue -c "$(pf "$1")" -j 2>/dev/null | grep -c queue_id)" -eq 0 ]
}
flush_all() {
	for r in 1 2 3; do postqueue -c "$(pf $r)" -f >/dev/null 2>&1; done
}

# --- 1. the customer's server down past notify_after, mail on all three ---
T0=$(date +%s)
for r in 1 2 3; do
	send $r alice@sender.test "a$r@cust.example" >"$ROOT/s1.$r" 2>&1
	send $r alice@sender.test "b$r@cust.example" >>"$ROOT/s1.$r" 2>&1
	t_eq "$(grep -c '^DATA 250 ' "$ROOT/s1.$r")" 2 "relay $r: two messages for cust.example accepted"
done
send 2 alice@sender.test o2@one.example >"$ROOT/s1.one" 2>&1
t_grep "$ROOT/s1.one" "^DATA 250 " "relay 2: a message for one.example (only this relay holds its mail)"
send 3 alice@sender.test x@a.sub.example,y@b.sub.example >"$ROOT/s1.sub" 2>&1
t_grep "$ROOT/s1.sub" "^DATA 250 " "relay 3: one message for two subdomains of the .sub.example route"
wait_until 30 sh -c "for r in 1 2 3; do grep -q 'to=<a'\$r'@cust\\.example>.*status=deferred' $ROOT/r\$r/postfix/maillog || exit 1; done"
t_ok $? "each relay holds its mail: deferred by the LMTP daemon (server down)"
wait_until 40 notices_ge 'Mail for cust\.example is waiting' 1
t_ok $? "an outage notice reaches the contact's sink"
# every relay has tried again past notify_after: the two that did not send it say so
wait_until 40 rlogs_ge 'cust\.example: deliveries failing since [0-9]+ s: notice sent by another relay' 2
t_ok $? "the two other relays log that another relay sent the notice"
for r in 1 2 3; do
	t_ok "$([ "$(rlog $r 'cust\.example: deliveries failing since [0-9]+ s: notice (to|sent by)')" -ge 1 ]; echo $?)" \
		"relay $r met the outage past notify_after"
done
t_eq "$(notices 'Mail for cust\.example is waiting')" 1 "3 relays hold the mail: exactly one outage notice for the fleet"
t_grep "$(grep -l 'cust\.example is waiting' "$NOTICES"/notice.*.eml)" "^ARGS:.* owner@contact\.test" "... to the route's contact"
DOWN_NOTICES=$(notices 'Mail for cust\.example is waiting')
wait_until 30 notices_ge 'Mail for one\.example is waiting' 1
t_eq "$(notices 'Mail for one\.example is waiting')" 1 "1 relay holds the mail: one outage notice"
ONE_NOTICES=$(notices 'Mail for one\.example is waiting')

# --- 4. the fleet view while they hold it ---------------------------------
# each relay's numbers, as the admin collects them (here: files)
mkdir -p "$ROOT/fleet"
for r in 1 2 3; do
	"$ROOT/mxport-queue" -c "$ROOT/r$r/etc/mxport.conf" --mta postfix -C "$(pf $r)/etc" \
		--relay "relay$r.test" --json >"$ROOT/fleet/relay$r.json" 2>"$ROOT/fleet/err$r"
	t_eq "$?" 0 "relay $r: mxport-queue --json for the fleet view"
done
"$ROOT/mxport-queue" --fleet "$ROOT"/fleet/relay*.json >"$ROOT/fleet.txt" 2>"$ROOT/fleet.err"
t_eq "$?" 0 "--fleet: exit 0"
t_grep "$ROOT/fleet.txt" "^DOMAIN +MSGS +RCPTS +OLDEST +DOWN +RELAYS +LAST ERROR$" "--fleet: the table's header"
t_grep "$ROOT/fleet.txt" "^cust\\.example +6 +6 +[0-9]+s +[0-9]+s +relay1\\.test:2,relay2\\.test:2,relay3\\.test:2 +.*" \
	"--fleet: cust.example, 6 messages, down for some seconds (the shared outage), 2 on each relay"
t_grep "$ROOT/fleet.txt" "^relays: 3 \\(relay1\\.test [0-9]+s ago, relay2\\.test [0-9]+s ago, relay3\\.test [0-9]+s ago\\)" \
	"--fleet: names the relays read and the age of their numbers"
"$ROOT/mxport-queue" --fleet --json "$ROOT"/fleet/relay*.json >"$ROOT/fleet.json"
t_eq "$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); d=[d for d in j['domains'] if d['domain'] == 'cust.example'][0]; print(d['domain'], d['messages'], sorted(d['relays'].items()))" "$ROOT/fleet.json")" \
	"cust.example 6 [('relay1.test', {'messages': 2, 'recipients': 2}), ('relay2.test', {'messages': 2, 'recipients': 2}), ('relay3.test', {'messages': 2, 'recipients': 2})]" \
	"--fleet --json: per domain, per relay"
t_eq "$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print([d for d in j['domains'] if d['domain'] == 'cust.example'][0]['outage_age'] >= 3)" "$ROOT/fleet.json")" True \
	"--fleet --json: the fleet's outage of cust.example began past notify_after ago (memcached)"
t_eq "$(python3 -c "import json,sys; print([[d for d in json.load(open(f))['domains'] if d['domain'] == 'cust.example'][0].get('outage_age', -1) >= 0 for f in sys.argv[1:]])" "$ROOT"/fleet/relay*.json)" "[True, True, True]" \
	"--json with shared_state: each relay's report has the shared outage's age"
# the same numbers as a metric, against the real queue
"$ROOT/mxport-queue" -c "$ROOT/r1/etc/mxport.conf" --mta postfix -C "$(pf 1)/etc" \
	--metrics "$ROOT/queue.prom" 2>"$ROOT/metrics.err"
t_eq "$?" 0 "--metrics FILE: exit 0"
promtool check metrics <"$ROOT/queue.prom" >"$ROOT/promtool.out" 2>&1
t_ok $? "--metrics: promtool check metrics passes"
t_grep "$ROOT/queue.prom" '^mxport_route_queued_messages\{route="cust\.example"\} 2$' "--metrics: cust.example has 2 messages waiting on relay 1 (postqueue -j)"
t_grep "$ROOT/queue.prom" '^mxport_route_queued_recipients\{route="cust\.example"\} 2$' "--metrics: ... and 2 recipients"
t_grep "$ROOT/queue.prom" '^mxport_route_queued_oldest_timestamp_seconds\{route="cust\.example"\} [0-9]{10}$' "--metrics: ... and the oldest one's arrival"
t_eq "$(postqueue -c "$(pf 1)/etc" -j | grep -c '"address": *"[ab]1@cust\.example"')" 2 "... as many as postqueue -j lists for it"
t_grep "$ROOT/queue.prom" '^mxport_route_queued_messages\{route="up\.example"\} 0$' "--metrics: a route with nothing waiting: 0"
# a message for two subdomains of one route: one message, two recipients of the route
"$ROOT/mxport-queue" -c "$ROOT/r3/etc/mxport.conf" --mta postfix -C "$(pf 3)/etc" --metrics - >"$ROOT/sub.prom" 2>&1
t_grep "$ROOT/sub.prom" '^mxport_route_queued_messages\{route="\.sub\.example"\} 1$' "--metrics: a.sub.example and b.sub.example in one message: one message of the .sub.example route"
t_grep "$ROOT/sub.prom" '^mxport_route_queued_recipients\{route="\.sub\.example"\} 2$' "... with its two recipients"
# the bound: metrics_max_routes = 1 leaves one route a series of its own
sed 's/^metrics_max_routes.*//' "$ROOT/r1/etc/mxport.conf" >"$ROOT/bound.conf"
echo "metrics_max_routes = 1" >>"$ROOT/bound.conf"
"$ROOT/mxport-queue" -c "$ROOT/bound.conf" --mta postfix -C "$(pf 1)/etc" --metrics - >"$ROOT/bound.prom" 2>&1
t_eq "$(grep -o 'route="[^"]*"' "$ROOT/bound.prom" | sort -u | tr '\n' ' ')" 'route="_other" route="cust.example" ' \
	"--metrics, metrics_max_routes = 1: one route of its own, the rest under _other"
# reports the fleet view must not take at face value
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); j['time'] -= 1000; json.dump(j, open(sys.argv[2], 'w'))" \
	"$ROOT/fleet/relay3.json" "$ROOT/old3.json"
"$ROOT/mxport-queue" --fleet "$ROOT/fleet/relay1.json" "$ROOT/old3.json" >"$ROOT/stale.txt" 2>"$ROOT/stale.err"
t_eq "$?" 1 "--fleet: a report older than --max-age: exit 1"
t_grep "$ROOT/stale.txt" "relay3\.test 10[0-9][0-9]s ago STALE" "... marked STALE"
"$ROOT/mxport-queue" --fleet "$ROOT/fleet/relay1.json" "$ROOT/fleet/relay1.json" >/dev/null 2>"$ROOT/dup.err"
t_eq "$?" 64 "--fleet: the same relay twice: refused"
echo '{"domains": 3}' >"$ROOT/bad.json"
"$ROOT/mxport-queue" --fleet "$ROOT/fleet/relay1.json" "$ROOT/bad.json" >/dev/null 2>"$ROOT/bad.err"
t_eq "$?" 75 "--fleet: a file that is not a report: exit 75"
t_grep "$ROOT/bad.err" "bad\.json: not a report of mxport-queue --json" "... naming the file"

# --- 1 (cont.). the server back: one recovery notice, all mail once -------
start_peer cust "{\"port\": $DOWN}"
C="$PEER_DIR"
start_peer one "{\"port\": $DOWN1}"
O="$PEER_DIR"
flush_all
wait_until 40 rcpts_n "$C" 'cust\.example' 6
t_ok $? "server back: the six recipients delivered"
wait_until 30 sh -c "queue_empty() { [ \$(postqueue -c \$1 -j | grep -c queue_id) -eq 0 ]; }; queue_empty $PF_1/etc && queue_empty $PF_2/etc && queue_empty $PF_3/etc"
t_ok $? "... the three queues are empty"
wait_until 30 notices_ge 'Mail for cust\.example is delivered again' 1
# each relay has closed its outage: one sent the notice, two say another did
wait_until 30 rlogs_ge 'cust\.example: deliveries succeed again after [0-9]+ s: notice (to|sent by another relay)' 3
t_ok $? "each relay closed the outage"
t_eq "$(notices 'Mail for cust\.example is delivered again')" 1 "exactly one recovery notice for the fleet"
t_eq "$(rcpts "$C" 'cust\.example' | tr '\n' ' ')" "a1@cust.example a2@cust.example a3@cust.example b1@cust.example b2@cust.example b3@cust.example " \
	"each recipient at the customer once: none missing, no duplicates"
t_eq "$(notices 'Mail for cust\.example is waiting')" 1 "... and still one outage notice"
wait_until 30 rcpts_n "$O" 'one\.example' 1
wait_until 30 rcpts_n "$C" '.*\.sub\.example' 2
t_eq "$(rcpts "$C" '.*\.sub\.example' | tr '\n' ' ')" "x@a.sub.example y@b.sub.example " "the subdomains' message delivered once"
wait_until 30 notices_ge 'Mail for one\.example is delivered again' 1
t_eq "$(rcpts "$O" 'one\.example' | tr '\n' ' ')$(notices 'Mail for one\.example is delivered again')" "o2@one.example 1" \
	"1 relay: its mail delivered once, one recovery notice"
UP_NOTICES=$(notices 'Mail for cust\.example is delivered again')

# --- 2. a callout answered once serves all three relays -------------------
for r in 1 2 3; do
	send $r alice@sender.test bob@v.example >"$ROOT/v.$r" 2>&1
	t_grep "$ROOT/v.$r" "^RCPT bob@v\\.example 250 " "relay $r: bob@v.example (verify=yes) accepted"
	send $r alice@sender.test nobody@v.example >"$ROOT/n.$r" 2>&1
	t_grep "$ROOT/n.$r" "^RCPT nobody@v\\.example 550 .*no such user" "relay $r: nobody@v.example refused with the server's words"
done
t_eq "$(callouts bob@v.example)" 1 "verify shared: one callout for bob across the three relays"
t_eq "$(callouts nobody@v.example)" 1 "verify shared: one callout for nobody across the three relays"
SHARED_CALLOUTS=$(callouts bob@v.example)
wait_until 30 rcpts_n "$V" 'v\.example' 3
t_eq "$(rcpts "$V" 'v\.example' | tr '\n' ' ')" "bob@v.example bob@v.example bob@v.example " "bob's three messages delivered, once each"

# --- 3. memcached killed in the middle of a run ---------------------------
memcached_kill
for r in 1 2 3; do
	send $r alice@sender.test carol@v.example >"$ROOT/k.$r" 2>&1
	send $r alice@sender.test "k$r@up.example" >>"$ROOT/k.$r" 2>&1
	t_eq "$(grep -c '^DATA 250 ' "$ROOT/k.$r")" 2 "memcached killed: relay $r accepts (carol@v.example verified on its own)"
done
wait_until 30 rcpts_n "$V" 'up\.example' 3
t_eq "$(rcpts "$V" 'up\.example' | tr '\n' ' ')" "k1@up.example k2@up.example k3@up.example " "memcached killed: every message delivered once"
wait_until 30 rcpts_n "$V" 'v\.example' 6
t_eq "$(rcpts "$V" 'v\.example' | grep -c carol)" 3 "memcached killed: carol's three messages delivered"
for r in 1 2 3; do
	t_nogrep "$ROOT/r$r/postfix/maillog" "to=<(k$r@up|carol@v)\\.example>.*status=deferred" "relay $r: nothing waited for a retry"
	t_ok "$([ "$(rlog $r 'shared state memcache:127\.0\.0\.1:[0-9]+: .*using this relay.s own state')" -ge 1 ]; echo $?)" \
		"relay $r logs the fallback to its own state"
done
TK=$(date +%s)
UNSHARED_CALLOUTS=$(callouts carol@v.example)
t_eq "$UNSHARED_CALLOUTS" 3 "memcached down: each relay calls out on its own (3 callouts for carol)"

memcached_start # empty, as after a restart
# past every process's retry time: shared_state_retry (2s) after its last
# failure, all of them before TK (a deadline on the clock, not a sleep)
while [ "$(date +%s)" -le $((TK + 2)) ]; do sleep 0.1; done
for r in 1 2 3; do
	send $r alice@sender.test dave@v.example >"$ROOT/b.$r" 2>&1
	t_grep "$ROOT/b.$r" "^DATA 250 " "memcached back: relay $r accepts dave@v.example"
done
t_eq "$(callouts dave@v.example)" 1 "memcached back: sharing resumes (one callout for dave across the three)"
for r in 1 2 3; do
	t_ok "$([ "$(rlog $r 'shared state .*answering again')" -ge 1 ]; echo $?)" "relay $r logs that memcached answers again"
done
wait_until 30 rcpts_n "$V" 'v\.example' 9
t_eq "$(rcpts "$V" 'v\.example' | grep -c dave)" 3 "dave's three messages delivered"

# --- relay 1's own numbers after the run: the counters agree with the customers
# delivered_at PEER_DIR - recipients a peer took from relay 1 (its EHLO names it)
delivered_at() {
	for f in "$1"/session.*; do
		[ -e "$f" ] || continue
		tr -d '\r' <"$f" | grep -q '^EHLO relay1\.test' || continue
		tr -d '\r' <"$f" | grep -q '^DATA' || continue
		tr -d '\r' <"$f" | grep -c '^RCPT TO:'
	done | awk '{ n += $1 } END { print n + 0 }'
}
PROM="$ROOT/r1/state/mxport.prom"
counted() {
	grep -E "^mxport_route_recipients_total\{route=\"$1\",result=\"delivered\"\} " "$PROM" 2>/dev/null | awk '{ print $2 }'
}
wait_until 20 sh -c "grep -q '^mxport_route_recipients_total{route=\"v\.example\",result=\"delivered\"} 3$' '$PROM'"
promtool check metrics <"$PROM" >"$ROOT/promtool1.out" 2>&1
t_ok $? "relay 1's metrics (the LMTP daemon's textfile): promtool check metrics passes"
t_eq "$(counted 'cust\.example')+$(counted 'up\.example')+$(counted 'v\.example')" "2+1+3" \
	"relay 1's delivered recipients per route: cust.example 2, up.example 1, v.example 3"
t_eq "$(($(counted 'cust\.example') + $(counted 'up\.example') + $(counted 'v\.example')))" \
	"$(($(delivered_at "$C") + $(delivered_at "$V")))" "... as many as the customers' servers took from relay 1"
t_grep "$PROM" '^mxport_route_recipients_total\{route="cust\.example",result="deferred"\} [1-9]' \
	"... and cust.example's deferrals while its server was down"

echo "# notices per outage: 1 relay $ONE_NOTICES; 3 relays sharing: $DOWN_NOTICES down, $UP_NOTICES up"
echo "# callouts per user, 3 relays: shared $SHARED_CALLOUTS, memcached down (each its own) $UNSHARED_CALLOUTS"
t_done
