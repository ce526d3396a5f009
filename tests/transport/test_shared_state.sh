#!/bin/sh
# test_shared_state - several relays, one service: three mxport-transport
# "relays" (pipe mode, a state_directory and a log each, one helo_name
# each) share one memcached (Debian's, on a loopback port). The customer's
# server (the scripted SMTP peer) is down: exactly one notice for the fleet,
# one recovery notice; the same without memcached gives one per relay (the
# test can fail). memcached stopped (slow) or killed in the middle of a
# run: deliveries go on within the timeouts, each relay logs the fallback
# once, and sharing resumes when memcached is back. Two mxport-milters
# (socketmap's verify table) share the callouts: the customer's server
# sees one RCPT for a user across both, and the rate limit holds for both.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 setpriv memcached
. "$MXPORT_SRCDIR/tests/lib/memcached.sh"

. "$MXPORT_SRCDIR/tests/lib/transport.sh"
NOTICES="$T_DIR/notices"
mkdir -p "$NOTICES"
chown nobody "$NOTICES"
for r in 1 2 3; do
	mkdir -p "$T_DIR/state$r"
	chown nobody "$T_DIR/state$r"
	: >"$T_DIR/relay$r.log"
	chmod 666 "$T_DIR/relay$r.log"
done

# The contact's sink: sendmail(1) keeps each notice in a file of its own.
notice_sink
printf 'Subject: plain\r\n\r\nhello\r\n' >"$T_DIR/plain"

# relays DOMAIN PORT SHARED - relayN.conf for the three relays
relays() {
	for r in 1 2 3; do
		printf '%s [127.0.0.1]:%s notify=owner@contact.test\n' "$1" "$2" >"$T_DIR/relay$r.routes"
		{
			echo "routes_file = $T_DIR/relay$r.routes"
			echo "allowed_networks = 127.0.0.0/8"
			echo "log_file = $T_DIR/relay$r.log"
			echo "dns_servers = 127.0.0.1:9"
			echo "dns_timeout = 1s"
			echo "connect_timeout = 2s"
			echo "command_timeout = 3s"
			echo "notify_after = 2s"
			echo "state_directory = $T_DIR/state$r"
			echo "sendmail_path = $T_DIR/sendmail"
			echo "helo_name = relay$r.test"
			echo "shared_state = $3"
			echo "shared_state_timeout = 150"
			echo "shared_state_retry = 2s"
		} >"$T_DIR/relay$r.conf"
	done
}

# xport RELAY QUEUE_ID RCPT - one delivery attempt on a relay; sets RC and MS (its time)
xport() {
	r=$1
	qid=$2
	shift 2
	t0=$(now_ms)
	as_user "$TRANSPORT" -c "$T_DIR/relay$r.conf" -q "$qid" -f alice@sender.test -- "$@" \
		<"$T_DIR/plain" >"$T_DIR/xout" 2>&1
	RC=$?
	MS=$(($(now_ms) - t0))
	notices_settle
}

# notices PATTERN - how many notices whose Subject matches
notices() {
	cat "$NOTICES"/notice.*.eml 2>/dev/null | grep -c "^Subject: $1"
}

# past SECONDS - until the clock has gone past SECONDS (epoch): a deadline, not a sleep
past() {
	while [ "$(date +%s)" -le "$1" ]; do sleep 0.1; done
}

# logged RELAY PATTERN - how many lines of the relay's log match
logged() {
	grep -Ec -- "$2" "$T_DIR/relay$1.log"
}

memcached_start
SHARED="memcache:127.0.0.1:$MC_PORT"

# --- three relays, memcached up: one notice for the fleet, one recovery ----
PORT=$(free_port) # closed: the customer's server is down
relays example.com "$PORT" "$SHARED"
T0=$(date +%s)
xport 1 A1 bob@example.com
t_eq "$RC" 75 "shared: relay 1 defers (server down)"
xport 2 A2 bob@example.com
t_eq "$RC" 75 "shared: relay 2 defers"
"$MXPORT_BUILDDIR/mxport-route" -c "$T_DIR/relay3.conf" example.com >"$T_DIR/route3" 2>&1
t_grep "$T_DIR/route3" '^  outage \(shared\): deliveries failing since ' \
	"shared: mxport-route on relay 3, which never tried, shows the fleet's outage"
past $((T0 + 2))
xport 1 A1 bob@example.com
xport 2 A2 bob@example.com
xport 3 A3 bob@example.com
t_eq "$RC" 75 "shared: relay 3 (its first attempt, past notify_after) defers"
xport 1 A1 bob@example.com
xport 2 A2 bob@example.com
xport 3 A3 bob@example.com
t_eq "$(notices 'Mail for example\.com is waiting')" 1 "shared: exactly one down notice for three relays"
t_eq "$(($(logged 1 'notice sent by another relay') + $(logged 2 'notice sent by another relay') + $(logged 3 'notice sent by another relay')))" 2 \
	"shared: the two other relays log that another relay sent it"
t_eq "$(logged 3 'A3: notify: example\.com: deliveries failing since [2-9]+ s')" 1 \
	"shared: relay 3, which never tried before, sees the fleet's outage start"
start_peer back "{\"port\": $PORT}"
for r in 1 2 3; do xport $r A$r bob@example.com; done
t_eq "$RC" 0 "shared: server back, relay 3 delivers"
t_eq "$(count_msgs "$PEER_DIR")" 3 "shared: each relay's mail delivered once"
t_eq "$(notices 'Mail for example\.com is delivered again')" 1 "shared: exactly one recovery notice"
"$MXPORT_BUILDDIR/mxport-route" -c "$T_DIR/relay3.conf" example.com >"$T_DIR/route3" 2>&1
t_grep "$T_DIR/route3" '^  outage \(shared\): none$' "shared: the outage is closed for the fleet"
SHARED_DOWN=$(notices 'Mail for example\.com is waiting')
stop_peer back

# --- a relay that missed the recovery: the next outage is a new one --------
PORT4=$(free_port)
relays example.info "$PORT4" "$SHARED"
T0=$(date +%s)
xport 1 D1 bob@example.info
xport 2 D2 bob@example.info
past $((T0 + 2))
xport 1 D1 bob@example.info
xport 2 D2 bob@example.info
t_eq "$(notices 'Mail for example\.info is waiting')" 1 "first outage: one notice"
start_peer back4 "{\"port\": $PORT4}"
xport 1 D1 bob@example.info # relay 2 has no mail for it now: its outage stays open
t_eq "$(notices 'Mail for example\.info is delivered again')" 1 "first outage over: one recovery notice"
stop_peer back4
T0=$(date +%s)
xport 2 D3 bob@example.info # relay 2 first: its old outage is over (relay 1 closed it)
xport 1 D4 bob@example.info
past $((T0 + 2))
xport 2 D3 bob@example.info
xport 1 D4 bob@example.info
t_eq "$(notices 'Mail for example\.info is waiting')" 2 \
	"second outage, first seen by the relay that missed the recovery: its own notice, once"
t_grep "$(grep -l 'example\.info is waiting' "$NOTICES"/notice.*.eml | sort | tail -1)" '^Messages waiting:  1 ' \
	"second outage: its notice counts only its own message"
start_peer back5 "{\"port\": $PORT4}"
xport 1 D4 bob@example.info
xport 2 D3 bob@example.info
xport 2 D2 bob@example.info
t_eq "$(notices 'Mail for example\.info is delivered again')" 2 "second outage over: one recovery notice"
stop_peer back5

# --- the same without memcached: a notice from each relay ------------------
PORT2=$(free_port)
relays example.net "$PORT2" ""
for r in 1 2 3; do xport $r B$r bob@example.net; done
# each relay's own outage starts at its own first attempt: notify_after is
# past for all three only after the last of them (relay 3's, seconds after
# relay 1's on a loaded machine)
T0=$(date +%s)
past $((T0 + 2))
for r in 1 2 3; do xport $r B$r bob@example.net; done
t_eq "$(notices 'Mail for example\.net is waiting')" 3 "not shared: three relays, three down notices"
start_peer back2 "{\"port\": $PORT2}"
for r in 1 2 3; do xport $r B$r bob@example.net; done
t_eq "$(notices 'Mail for example\.net is delivered again')" 3 "not shared: three recovery notices"
LOCAL_DOWN=$(notices 'Mail for example\.net is waiting')
stop_peer back2
echo "# notices per outage: shared $SHARED_DOWN down, not shared $LOCAL_DOWN down (3 relays)"

# --- memcached slow, then killed, then back ----------------------------------
PORT3=$(free_port)
relays example.org "$PORT3" "$SHARED"
xport 1 C1 bob@example.org
t_eq "$RC" 75 "memcached up: relay 1 defers, the outage's start is shared"
BASE=$MS
kill -STOP "$MC_PID" # it takes connections, answers nothing
xport 2 C2 bob@example.org
t_eq "$RC" 75 "memcached stopped: relay 2 still defers"
t_ok "$([ "$MS" -lt $((BASE + 2000)) ]; echo $?)" "memcached stopped: the run took ${MS} ms (its own ${BASE} ms plus at most the timeouts)"
memcached_kill
T0=$(date +%s)
xport 2 C2 bob@example.org
t_ok "$([ "$MS" -lt $((BASE + 2000)) ]; echo $?)" "memcached killed: the run took ${MS} ms"
xport 2 C2 bob@example.org
xport 2 C3 bob@example.org
t_eq "$(logged 2 'shared state memcache:127\.0\.0\.1:[0-9]+: .*using this relay.s own state')" 1 \
	"memcached down: relay 2 logs the fallback once for four runs"
past $((T0 + 2))
xport 1 C1 bob@example.org
xport 2 C2 bob@example.org
t_eq "$RC" 75 "memcached down past notify_after: still deferred, nothing lost"
t_eq "$(notices 'Mail for example\.org is waiting')" 2 \
	"memcached down: each relay falls back to its own state (a notice from each)"
t_eq "$(logged 1 'shared state .*using this relay.s own state')" 1 "memcached down: relay 1 logs the fallback too"

memcached_start # empty, as after a restart
# until both relays' retry time (shared_state_retry = 2s) has passed
for r in 1 2; do
	F=$(sed -n 's/^failed \([0-9]*\) .*/\1/p' "$T_DIR/state$r/shared_state.down")
	past $((${F:-0} + 2))
done
xport 1 C1 bob@example.org
xport 2 C2 bob@example.org
t_eq "$(logged 1 'shared state .*answering again')" 1 "memcached back: relay 1 logs it"
t_eq "$(logged 2 'shared state .*answering again')" 1 "memcached back: relay 2 logs it"
start_peer back3 "{\"port\": $PORT3}"
xport 1 C1 bob@example.org
xport 2 C2 bob@example.org
xport 2 C3 bob@example.org
t_eq "$RC" 0 "memcached back, server back: delivered"
t_eq "$(count_msgs "$PEER_DIR")" 3 "all mail delivered once"
t_eq "$(notices 'Mail for example\.org is delivered again')" 1 \
	"memcached back: sharing resumes, one recovery notice for both relays"

# --- two milters share the verify cache and the rate limits ----------------
PROBE=$(t_share "$MXPORT_SRCDIR/tests/lib/sockprobe.py")
PY=/usr/bin/python3 # the system python: user postfix cannot reach root's own (pyenv)
need "$PY"
# lookup N KEY - milter N's socketmap verify answer for KEY, asked as user postfix
lookup() {
	sm="$T_DIR/run/socketmap.sock"
	[ "$1" = 2 ] && sm="$T_DIR/run2/socketmap.sock"
	setpriv --reuid=postfix --regid=postfix --init-groups -- "$PY" "$PROBE" socketmap "$sm" verify "$2"
}
# callouts PEER RCPT - the sessions of a peer that asked RCPT for RCPT
callouts() {
	grep -l "^RCPT TO:<$2>" "$T_DIR"/peer.$1/session.* 2>/dev/null | wc -l
}
start_peer cust '{"rcpt_match": [["nobody.*", "550 5.1.1 no such user"]]}'
PC=$PEER_PORT
start_peer cust2 '{"rcpt_match": [["nobody.*", "550 5.1.1 no such user"]]}'
PC2=$PEER_PORT
start_peer cust3 '{}'
PC3=$PEER_PORT
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="verify_timeout = 5s
verify_route_rate = 3
shared_state = $SHARED
shared_state_retry = 2s"
setup_mxport "example.com [127.0.0.1]:$PC verify=yes
rated.example [127.0.0.1]:$PC3 verify=yes"
start_milter
MILTER1=$MILTER_PID
# the second relay's milter: its own sockets, the same memcached
mkdir -p "$T_DIR/run2"
chmod 755 "$T_DIR/run2"
sed -e "s|$T_DIR/run/|$T_DIR/run2/|g" -e "s|^log_file = .*|log_file = $T_DIR/mxport2.log|" \
	"$T_DIR/etc/mxport.conf" >"$T_DIR/etc/mxport2.conf"
: >"$T_DIR/mxport2.log"
chmod 666 "$T_DIR/mxport2.log"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport2.conf" -u mxport \
	-P "$T_DIR/run2/milter.pid" >>"$T_DIR/milter2.stderr" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the second mxport-milter" test -S "$T_DIR/run2/socketmap.sock"

t_eq "$(lookup 1 bob@example.com)" "OK DUNNO" "verify, milter 1: a known user passes"
t_eq "$(lookup 2 bob@example.com)" "OK DUNNO" "verify, milter 2: the same user passes"
t_eq "$(callouts cust bob@example.com)" 1 "verify shared: one callout for the user across both milters"
lookup 1 nobody@example.com >"$T_DIR/nobody1" 2>&1
lookup 2 nobody@example.com >"$T_DIR/nobody2" 2>&1
t_grep "$T_DIR/nobody2" "^OK 550 5\\.1\\.1 no such user" "verify shared: milter 2 refuses the unknown user with the server's words"
t_eq "$(callouts cust nobody@example.com)" 1 "verify shared: one callout for the refused user across both"
# verify_route_rate = 3 a minute: for the fleet, not for each milter (all
# five asked within one minute: not in its last 15 seconds)
while [ $(($(date +%s) % 60)) -ge 45 ]; do sleep 0.2; done
for u in u1 u2; do lookup 1 $u@rated.example >/dev/null 2>&1; done
for u in u3 u4 u5; do lookup 2 $u@rated.example >/dev/null 2>&1; done
t_eq "$(grep -c '^RCPT TO:<u' "$T_DIR"/peer.cust3/session.* 2>/dev/null | awk -F: '{ n += $NF } END { print n + 0 }')" 3 \
	"verify rate shared: 3 callouts a minute for the route across both milters"

# memcached down: each milter calls out on its own, at once
memcached_kill
t0=$(now_ms)
r=$(lookup 2 carol@example.com)
ms=$(($(now_ms) - t0))
t_eq "$r" "OK DUNNO" "memcached down: verify still answers"
t_ok "$([ "$ms" -lt 3000 ]; echo $?)" "memcached down: within the timeouts (${ms} ms)"
t_grep "$T_DIR/mxport2.log" "shared state .*using this relay.s own state" "memcached down: the milter logs the fallback"

# without shared_state: a callout from each milter for the same user
stop_milter
kill "$(cat "$T_DIR/run2/milter.pid")" 2>/dev/null
wait_for "the second milter gone" sh -c "! test -S $T_DIR/run2/socketmap.sock || ! kill -0 $(cat "$T_DIR/run2/milter.pid")"
for f in mxport.conf mxport2.conf; do sed -i -e 's/^shared_state = .*/shared_state =/' "$T_DIR/etc/$f"; done
sed -i "s|127.0.0.1\]:$PC |127.0.0.1]:$PC2 |" "$T_DIR/etc/routes"
start_milter
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport2.conf" -u mxport \
	-P "$T_DIR/run2/milter.pid" >>"$T_DIR/milter2.stderr" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the second mxport-milter again" sh -c "test -S $T_DIR/run2/socketmap.sock && test -s $T_DIR/run2/milter.pid && kill -0 \$(cat $T_DIR/run2/milter.pid)"
lookup 1 bob@example.com >/dev/null 2>&1
r=$(lookup 2 bob@example.com)
t_eq "$(callouts cust2 bob@example.com)" 2 "verify not shared: one callout from each milter ($r)"
SHARED_CALLOUTS=1
echo "# callouts per user, two milters: shared $SHARED_CALLOUTS, not shared $(callouts cust2 bob@example.com)"

t_done
