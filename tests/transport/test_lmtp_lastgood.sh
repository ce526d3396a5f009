#!/bin/sh
# test_lmtp_lastgood - the last good configuration stays in force in the LMTP
# daemon and all its connection processes: under steady load (4 clients,
# new connections all the time, so both long-lived and newly forked
# processes serve), a routes file, an mxport.conf and a secrets file broken
# in turn leave every other customer's mail flowing with the old routes (no
# 4xx at all); each break is logged once for the whole daemon, naming file
# and line; the fix is taken without a restart (logged once). A daemon
# started with a broken routes file or mxport.conf refuses to start, exit
# 78, naming file and line, and makes no socket. A crash is logged.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh" # wait_until
need python3 setpriv

TRANSPORT="$MXPORT_BUILDDIR/mxport-transport"
LOG="$T_DIR/transport.log"
SOCK="$T_DIR/run/lmtp.sock"
mkdir -p "$T_DIR/run" "$T_DIR/etc"
chown nobody "$T_DIR/run"
chmod 755 "$T_DIR/etc"
: >"$LOG"
chmod 666 "$LOG"

start_peer c1 '{}'
P1=$PEER_PORT
D1=$PEER_DIR
start_peer c2 '{}'
P2=$PEER_PORT
D2=$PEER_DIR
start_peer c3 '{}'
P3=$PEER_PORT
D3=$PEER_DIR
start_peer c1new '{}'
P4=$PEER_PORT
D4=$PEER_DIR

ROUTES="$T_DIR/etc/routes"
CONF="$T_DIR/etc/mxport.conf"
SECRETS="$T_DIR/etc/secrets"
GOOD_ROUTES="c1.example [127.0.0.1]:$P1
c2.example [127.0.0.1]:$P2
c3.example [127.0.0.1]:$P3"
printf '%s\n' "$GOOD_ROUTES" >"$ROUTES"
echo "[127.0.0.2]:9 user secret" >"$SECRETS"
chown nobody "$SECRETS"
chmod 600 "$SECRETS"
{
	echo "routes_file = $ROUTES"
	echo "secrets_file = $SECRETS"
	echo "allowed_networks = 127.0.0.0/8"
	echo "log_file = $LOG"
	echo "dns_servers = 127.0.0.1:9"
	echo "tls_mode = none"
	echo "socket_group = nogroup"
	echo "connection_cache_time = 0"
} >"$CONF"
GOOD_CONF=$(cat "$CONF")
chmod 644 "$CONF" "$ROUTES"

setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TRANSPORT" -c "$CONF" \
	-L "unix:$SOCK" >>"$T_DIR/daemon.err" 2>&1 &
DAEMON=$!
T_PIDS="$T_PIDS $DAEMON"
wait_until 20 grep -q 'lmtp: listening on' "$LOG"
t_ok $? "the LMTP daemon started"

RES="$T_DIR/results"
: >"$RES"
python3 "$MXPORT_SRCDIR/tests/lib/lmtpload.py" "$SOCK" "$RES" "$T_DIR/stop" 4 \
	c1.example c2.example c3.example 2>"$T_DIR/load.err" &
LOAD=$!
T_PIDS="$T_PIDS $LOAD"

# replies_above N - more than N replies to a final dot so far
replies_above() {
	[ "$(wc -l <"$RES")" -gt "$1" ]
}
# load_for N - wait for N more replies (60 s at most); false when they did not come
load_for() {
	base=$(wc -l <"$RES")
	wait_until 60 replies_above $((base + $1))
}
# bad_replies - replies other than 250 so far
bad_replies() {
	grep -cv ' 250$' "$RES"
}
# log_count REGEX - lines of the daemon's log that match
log_count() {
	grep -cE "$1" "$LOG"
}

load_for 30
t_ok $? "load: mail flows (30 messages)"
t_eq "$(bad_replies)" 0 "load: every message answered 250"

# 1. A bad line in the routes file (the issue's own typo).
echo 'cust6.example [127.0.0.1]:25x27' >>"$ROUTES"
load_for 80
t_ok $? "broken routes file: mail still flows (80 more messages)"
t_eq "$(bad_replies)" 0 "broken routes file: other customers' mail delivered with the old routes, no 4xx"
t_eq "$(log_count "routes:4: '\\[127\\.0\\.0\\.1\\]:25x27': '25x27' is not a port number")" 1 "broken routes file: logged once for the whole daemon, naming file and line"
t_eq "$(log_count 'change refused; the configuration loaded .* stays in force')" 1 "broken routes file: the refusal said once"
t_eq "$(log_count '451 |4\.3\.5')" 0 "broken routes file: no deferral logged"

# The fix (and an edit: c1 moves to another server) is taken without a restart.
printf '%s\n' "c1.example [127.0.0.1]:$P4
c2.example [127.0.0.1]:$P2
c3.example [127.0.0.1]:$P3
cust6.example [127.0.0.1]:2527" >"$ROUTES"
wait_until 60 have_msgs "$D4" 3
t_ok $? "fixed routes file: in force without a restart (c1's mail goes to its new server)"
t_eq "$(log_count 'configuration .* reloaded \(the broken change is fixed\)')" 1 "fixed routes file: logged once"

# 2. A broken mxport.conf.
echo "no_such_key = 1" >>"$CONF"
load_for 60
t_ok $? "broken mxport.conf: mail still flows"
t_eq "$(bad_replies)" 0 "broken mxport.conf: no 4xx"
t_eq "$(log_count "mxport\\.conf:9: no_such_key: unknown key")" 1 "broken mxport.conf: logged once, naming file and line"
printf '%s\n' "$GOOD_CONF" >"$CONF"
load_for 30

# 3. A broken secrets file.
echo "[127.0.0.3]:9 useronly" >>"$SECRETS"
load_for 60
t_ok $? "broken secrets file: mail still flows"
t_eq "$(bad_replies)" 0 "broken secrets file: no 4xx"
t_eq "$(log_count "secrets:2: expected 'key")" 1 "broken secrets file: logged once, naming file and line"
echo "[127.0.0.2]:9 user secret" >"$SECRETS"
load_for 30

touch "$T_DIR/stop"
wait "$LOAD"
sent=$(grep -c ' 250$' "$RES")
got=$(($(count_msgs "$D1") + $(count_msgs "$D2") + $(count_msgs "$D3") + $(count_msgs "$D4")))
t_eq "$(bad_replies)" 0 "the whole run: no reply but 250 ($sent messages)"
t_eq "$got" "$sent" "the whole run: every message answered 250 reached its server"

# A daemon that dies of a crash says so (AddressSanitizer's report instead, in such a build).
kill -SEGV "$DAEMON"
wait "$DAEMON" 2>/dev/null
cat "$LOG" "$T_DIR/daemon.err" >"$T_DIR/crash.log"
t_grep "$T_DIR/crash.log" "transport\\[$DAEMON\\]: fatal: killed by signal 11 \\(SIGSEGV\\)|AddressSanitizer" "a crash of the LMTP daemon is logged"

# 4. Start-up refusal, for each kind of broken file.
# start_refused CONF - a daemon with CONF: its exit code; its stderr in $T_DIR/refused.err
start_refused() {
	rm -f "$T_DIR/run/refused.sock"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TRANSPORT" -c "$1" \
		-L "unix:$T_DIR/run/refused.sock" >"$T_DIR/refused.err" 2>&1 &
	pid=$!
	# A refusal is quick; a daemon that started would listen: give it 20 s to say which.
	wait_until 20 sh -c "! kill -0 $pid || test -S '$T_DIR/run/refused.sock'"
	if test -S "$T_DIR/run/refused.sock"; then
		kill "$pid"
		wait "$pid"
		echo started
	else
		wait "$pid"
		echo $?
	fi
}
printf '%s\n' "$GOOD_ROUTES" "c4.example [127.0.0.1]:2525" "c5.example [127.0.0.1]:25x27" >"$T_DIR/etc/routes.bad"
chmod 644 "$T_DIR/etc/routes.bad"
sed "s|^routes_file = .*|routes_file = $T_DIR/etc/routes.bad|" "$CONF" >"$T_DIR/etc/bad-routes.conf"
chmod 644 "$T_DIR/etc/bad-routes.conf"
t_eq "$(start_refused "$T_DIR/etc/bad-routes.conf")" 78 "start with a broken routes file: refused, exit 78"
t_grep "$T_DIR/refused.err" "routes\\.bad:5: '\\[127\\.0\\.0\\.1\\]:25x27'" "start refused: stderr names file and line"
t_grep "$T_DIR/refused.err" "configuration error: not started" "start refused: says it did not start"
{ cat "$CONF"; echo "lmtp_max_clients = lots"; } >"$T_DIR/etc/bad.conf"
chmod 644 "$T_DIR/etc/bad.conf"
t_eq "$(start_refused "$T_DIR/etc/bad.conf")" 78 "start with a broken mxport.conf: refused, exit 78"
t_grep "$T_DIR/refused.err" "bad\\.conf:9: lmtp_max_clients: 'lots' is not a number" "start refused: stderr names mxport.conf's line"
t_done
