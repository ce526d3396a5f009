#!/bin/sh
# test_lmtp_process - the LMTP daemon's connection process waits
# lmtp_process_idle_time for the next connection and serves it with its
# route cache: two LMTP connections in a row to an SRV-routed domain make
# one SRV query, not two; two at once (two processes) make one too, for the
# daemon's processes share their DNS answers. The kept SMTP session still
# ends with each LMTP connection; when the daemon is stopped a waiting
# process ends, and a busy one lets go of the socket (a new daemon starts at
# once) and finishes its connection; with lmtp_process_idle_time = 0 each
# connection has a process of its own (and the answers are still shared).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv nsd

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
SOCK="$T_DIR/run/lmtp.sock"

start_peer cust '{}'
printf '$ORIGIN test.\n$TTL 3600\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n@ NS ns.test.\nns A 127.0.0.1\n_smtp._tcp.dom SRV 10 0 %s mail.dom.test.\nmail.dom A 127.0.0.1\n' \
	"$PEER_PORT" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.
: >"$T_DIR/queries"
python3 "$MXPORT_SRCDIR/tests/lib/dnscount.py" "$NSD_PORT" "$T_DIR/dnscount.port" "$T_DIR/queries" &
T_PIDS="$T_PIDS $!"
wait_for "the counting DNS relay" test -s "$T_DIR/dnscount.port"
mkdir -p "$T_DIR/run"
chown nobody "$T_DIR/run"

# daemon [EXTRA...] - a fresh LMTP daemon as user nobody; its pid in DAEMON;
# false when it did not start listening
daemon() {
	{
		echo "dns_routes = yes"
		echo "dns_servers = 127.0.0.1:$(cat "$T_DIR/dnscount.port")"
		echo "allowed_networks = 127.0.0.0/8"
		echo "tls_mode = none"
		echo "log_file = $LOG"
		echo "socket_group = nogroup"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/mxport.conf"
	chmod 644 "$T_DIR/mxport.conf"
	: >"$LOG"
	chmod 666 "$LOG"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TRANSPORT" -c "$T_DIR/mxport.conf" \
		-L "unix:$SOCK" >>"$T_DIR/daemon.err" 2>&1 &
	DAEMON=$!
	T_PIDS="$T_PIDS $DAEMON"
	# the socket may be an old daemon's: wait for this one's word (or its end)
	i=0
	while ! grep -q 'lmtp: listening on' "$LOG" && kill -0 "$DAEMON" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q 'lmtp: listening on' "$LOG"
}

# lmtp RCPT... - an LMTP connection for each RCPT, all open at once (the
# first stays busy while the next connects: a process each); then a message
# on each, from the last connection to the first, and QUIT; prints the reply
# to each dot
cat >"$T_DIR/lmtp.py" <<'EOF'
import socket, sys
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    return s.makefile("rwb")
def reply(f):
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return line
def cmd(f, c):
    f.write(c.encode() + b"\r\n"); f.flush()
    return reply(f)
conns = []
for rcpt in sys.argv[2:]:
    f = connect()
    reply(f)
    cmd(f, "LHLO client.test")
    conns.append((f, rcpt))
for f, rcpt in reversed(conns):
    cmd(f, "MAIL FROM:<alice@sender.test>"); cmd(f, "RCPT TO:<%s>" % rcpt); cmd(f, "DATA")
    f.write(b"Subject: process test\r\n\r\nhello\r\n.\r\n"); f.flush()
    print(reply(f))
for f, rcpt in conns:
    cmd(f, "QUIT")
EOF
lmtp() {
	python3 "$T_DIR/lmtp.py" "$SOCK" "$@"
}

srv_queries() {
	grep -c 'SRV _smtp\._tcp\.dom\.test\.' "$T_DIR/queries"
}

# 1. two connections, one after the other: one process, one SRV query
daemon
r1=$(lmtp a@dom.test)
sleep 1 # the process ends the kept SMTP session, then waits
r2=$(lmtp b@dom.test)
case "$r1 $r2" in "250 "*" 250 "*) r=0 ;; *) r=1 ;; esac
t_ok $r "1: both connections delivered ($r1 / $r2)"
t_eq "$(count_msgs "$PEER_DIR")" 2 "1: the customer has both"
t_eq "$(srv_queries)" 1 "1: one SRV query for both connections (the process kept its route cache)"
pids=$(sed -n 's/.* L\([0-9]*\)\.[0-9]*: to=.*/\1/p' "$LOG" | sort -u)
t_eq "$(echo "$pids" | wc -l)" 1 "1: one process served both connections"
t_grep "$LOG" " L[0-9]*\.2: to=<b@dom\.test>" "1: its second message has queue id .2 (ids stay unique in the process)"
t_eq "$(grep -c '^QUIT' "$PEER_DIR"/session.* | grep -c ':1$')" 2 "1: each LMTP connection's SMTP session ended with QUIT"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null
gone=1
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	kill -0 "$pids" 2>/dev/null || { gone=0; break; }
	sleep 0.2
done
t_ok $gone "1: the waiting process ends when the daemon is stopped"

# 1b. the daemon is stopped while a connection is being served: a new
# daemon takes the socket at once (the old process let go of it), and the
# connection still delivers its message
: >"$T_DIR/queries"
daemon
python3 - "$SOCK" "$T_DIR/go" >"$T_DIR/held.out" <<'EOF' &
import os, socket, sys, time
f = socket.socket(socket.AF_UNIX)
f.connect(sys.argv[1])
f = f.makefile("rwb")
def reply():
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return line
def cmd(c):
    f.write(c.encode() + b"\r\n"); f.flush()
    return reply()
reply()
print(cmd("LHLO client.test"), flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
cmd("MAIL FROM:<alice@sender.test>"); cmd("RCPT TO:<held@dom.test>"); cmd("DATA")
f.write(b"Subject: held\r\n\r\nhello\r\n.\r\n"); f.flush()
print(reply())
cmd("QUIT")
EOF
HELD=$!
wait_for "the held LMTP connection" grep -q '^250' "$T_DIR/held.out"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null
daemon
t_ok $? "1b: a new daemon took the socket while the old one's connection goes on"
r=$(lmtp g@dom.test)
case "$r" in "250 "*) r=0 ;; *) r=1 ;; esac
t_ok $r "1b: ... and delivers"
touch "$T_DIR/go"
wait "$HELD"
t_grep "$T_DIR/held.out" "^250 2\.0\.0 <held@dom\.test>" "1b: the connection served when the daemon stopped delivered its message"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null

# 1c. two connections at once: two processes, and still one SRV query (the
# second process takes the first one's answer from the daemon's shared memory)
: >"$T_DIR/queries"
daemon
lmtp e@dom.test f@dom.test >"$T_DIR/both.out"
t_eq "$(grep -c '^250 ' "$T_DIR/both.out")" 2 "1c: two connections at once: both delivered"
t_eq "$(sed -n 's/.* L\([0-9]*\)\.[0-9]*: to=.*/\1/p' "$LOG" | sort -u | wc -l)" 2 "1c: ... by two processes"
t_eq "$(srv_queries)" 1 "1c: ... with one SRV query (the answer is shared by the daemon's processes)"
t_eq "$(grep -c ' A mail\.dom\.test\.' "$T_DIR/queries")" 1 "1c: ... and one A query"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null

# 2. lmtp_process_idle_time = 0: a process per connection, the answers still shared
: >"$T_DIR/queries"
daemon "lmtp_process_idle_time = 0"
lmtp c@dom.test >/dev/null
lmtp d@dom.test >/dev/null
t_eq "$(count_msgs "$PEER_DIR")" 8 "2: both delivered"
t_eq "$(srv_queries)" 1 "2: lmtp_process_idle_time = 0: one SRV query (the second process took the shared answer)"
t_eq "$(sed -n 's/.* L\([0-9]*\)\.[0-9]*: to=.*/\1/p' "$LOG" | sort -u | wc -l)" 2 "2: ... from a process each"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null

t_done
