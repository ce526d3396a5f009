#!/bin/sh
# test_lmtp_cache - the LMTP front keeps the SMTP session of a delivery for
# the next message (connection_cache_time), and keeping it never changes
# where or whether a message is delivered: a server that closed the kept
# session while idle, or just as MAIL FROM went out, gets a new connection.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"

# conf ROUTES [EXTRA...] - mxport.conf with one routes file
conf() {
	printf '%s\n' "$1" >"$T_DIR/routes"
	shift
	{
		echo "routes_file = $T_DIR/routes"
		echo "allowed_networks = 127.0.0.0/8"
		echo "log_file = $LOG"
		echo "dns_servers = 127.0.0.1:9"
		echo "tls_mode = none"
		echo "command_timeout = 5s"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/mxport.conf"
	chmod 644 "$T_DIR/mxport.conf" "$T_DIR/routes"
	: >"$LOG"
	chmod 666 "$LOG"
}

# drive PAUSE RCPT... - one LMTP session, a message per recipient; the
# driver execs the transport itself, so as_user (a function) cannot serve
drive() {
	pause=$1
	shift
	python3 "$MXPORT_SRCDIR/tests/lib/lmtpdrive.py" alice@sender.test "$pause" "$@" -- \
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$TRANSPORT" -c "$T_DIR/mxport.conf" -L - >"$T_DIR/out" 2>"$T_DIR/err"
}

sessions() {
	ls "$1" | grep -c '^session\.'
}


# 1. three messages in a row: one SMTP session
start_peer keep '{}'
K="$PEER_DIR"
conf "example.com [127.0.0.1]:$PEER_PORT"
drive 0 a@example.com b@example.com c@example.com
t_ok $? "1: the LMTP session ran"
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 3 "1: three messages, three 250 replies"
t_eq "$(count_msgs "$K")" 3 "1: the customer has all three"
t_eq "$(sessions "$K")" 1 "1: ... over one SMTP session"
t_eq "$(ls "$K" | grep -c '^msg\.1\.[23]$')" 2 "1: the second and third came on the first session"
t_grep "$LOG" "to=<c@example\\.com>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PEER_PORT, conn_use=3, " "1: the log says conn_use=3"
t_eq "$(grep -c '^QUIT' "$K/session.1")" 1 "1: the session ends with one QUIT"
t_eq "$(grep -c '^EHLO' "$K/session.1")" 1 "1: ... and one EHLO"

# 2. connection_cache_time = 0: a session a message
conf "example.com [127.0.0.1]:$PEER_PORT" "connection_cache_time = 0"
before=$(sessions "$K")
drive 0 d@example.com e@example.com
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 2 "2: keeping off: both delivered"
t_eq "$(($(sessions "$K") - before))" 2 "2: ... over two sessions"

# 3. idle longer than connection_cache_time: the kept session is closed
conf "example.com [127.0.0.1]:$PEER_PORT" "connection_cache_time = 1s"
before=$(sessions "$K")
drive 2 f@example.com g@example.com
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 2 "3: both delivered"
t_eq "$(($(sessions "$K") - before))" 2 "3: idle past connection_cache_time: a new session for the second"
t_eq "$(grep -c '^QUIT' "$K/session.$((before + 1))")" 1 "3: the idle session was ended with QUIT"

# 4. the server closes the kept session while it is idle (421): a new one
start_peer idle '{"idle_close": 0.5}'
I="$PEER_DIR"
conf "example.com [127.0.0.1]:$PEER_PORT" "connection_cache_time = 10s"
drive 1.5 h@example.com i@example.com
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 2 "4: server closed the idle session: both delivered"
t_eq "$(count_msgs "$I")" 2 "4: ... each once"
t_eq "$(sessions "$I")" 2 "4: ... the second on a new session"

# 5. the server drops the kept session just as MAIL FROM comes: a new one, no harm
start_peer drop '{"close_after": 1}'
D="$PEER_DIR"
conf "example.com [127.0.0.1]:$PEER_PORT"
drive 0 j@example.com k@example.com l@example.com
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 3 "5: server dropped the kept session at MAIL: all three delivered"
t_eq "$(count_msgs "$D")" 3 "5: ... each once"
t_eq "$(sessions "$D")" 3 "5: ... each on its own session"
t_nogrep "$LOG" "status=deferred" "5: nothing deferred"

# 5b. the server answers MAIL on the kept session with 421 (closing): a new one
start_peer late '{"late_mail": "421 4.3.2 peer.test Service shutting down"}'
L="$PEER_DIR"
conf "example.com [127.0.0.1]:$PEER_PORT"
drive 0 o@example.com p@example.com
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 2 "5b: 421 to MAIL on the kept session: both delivered"
t_eq "$(sessions "$L")" 2 "5b: ... the second on a new session"
t_nogrep "$LOG" "status=deferred" "5b: nothing deferred"

# 6. another route for the next message: the kept session is closed, not reused
start_peer other '{}'
O="$PEER_DIR"
conf "example.com [127.0.0.1]:$(cat "$K/port")
example.net [127.0.0.1]:$PEER_PORT"
before=$(sessions "$K")
drive 0 m@example.com n@example.net
t_eq "$(grep -c ' 250 2\.0\.0 ' "$T_DIR/out")" 2 "6: two routes: both delivered"
t_grep "$(ls -t "$O"/env.* | head -1)" "^RCPT TO:<n@example\\.net>" "6: the second went to its own route"
t_eq "$(grep -c '^QUIT' "$K/session.$((before + 1))")" 1 "6: the first route's session was ended with QUIT"

t_done
