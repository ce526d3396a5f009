#!/bin/sh
# test_crash - crashes lose nothing: 1,000 messages (20 SMTP sessions at
# once) through a private Postfix with mxport's milter and the LMTP daemon
# (contrib/postfix/lmtp), while kill -9 hits one of the LMTP daemon's
# connection processes in the middle of deliveries, then the LMTP daemon
# itself (restarted, as systemd's Restart=on-failure would), then the milter
# during SMTP sessions (restarted), then another connection process. When
# the queue has drained, every message was delivered to the customer's
# server; a duplicate is allowed only for a message whose customer had
# already answered the final dot in a process that was then killed (its
# 'status=sent' line is in mxport's log from that process, or, killed
# before it could log, its session at the customer ended right after that
# message without QUIT: Postfix's lmtp never got the reply, so it rightly
# sends the message again). The
# listener logs each connection process that dies, with the signal.
# MXPORT_CRASH_N sets the number of messages.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix setpriv

N=${MXPORT_CRASH_N:-1000}
start_peer cust '{}'
P="$PEER_DIR"
PPORT=$PEER_PORT
start_peer senders '{}'
S="$PEER_DIR"
PS=$PEER_PORT
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock"
setup_mxport "crash.example [127.0.0.1]:$PPORT"
start_milter
start_postfix "$PS"
postconf -c "$PF/etc" -e queue_run_delay=1s minimal_backoff_time=1s maximal_backoff_time=2s >/dev/null
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1

# lmtp_up - start the LMTP daemon and wait for its word (the socket of a
# killed one may still be there); its pid in LMTP_PID
lmtp_up() {
	n=$(grep -c 'lmtp: listening on' "$MXLOG")
	start_lmtp
	LMTP_PID=$(echo $T_PIDS | awk '{ print $NF }')
	wait_until 30 sh -c "[ \$(grep -c 'lmtp: listening on' '$MXLOG') -gt $n ]"
}
lmtp_up
t_ok $? "the LMTP daemon started"

# accepted - messages Postfix has taken so far (cleanup's message-id line)
accepted() {
	grep -c 'postfix/cleanup.*message-id=<soak-' "$PF/maillog"
}
accepted_at_least() {
	[ "$(accepted)" -ge "$1" ]
}
delivered_at_least() {
	have_msgs "$P" "$1"
}
# conn_processes - this test's LMTP connection processes: the listener's
# children, and those of a killed listener that still finish a connection
# (Postfix's lmtp(8) keeps its connections)
conn_processes() {
	ps -eo pid=,args= | awk -v pat="mxport-transport -c $T_DIR/etc/mxport.conf -L " \
		-v me="$LMTP_PID" '$2 ~ /\/mxport-transport$/ && index($0, pat) && $1 != me { print $1 }'
}
have_conn_processes() {
	[ -n "$(conn_processes)" ]
}
# kill_child AT - once AT messages were delivered, kill -9 a connection process
kill_child() {
	wait_until 120 delivered_at_least "$1"
	wait_until 20 have_conn_processes
	c=$(conn_processes | tail -n 1)
	parent=$(ps -o ppid= -p "$c" 2>/dev/null | tr -d ' ')
	kill -9 "$c" 2>/dev/null
	t_ok $? "kill -9 of LMTP connection process $c after $(count_msgs "$P") messages delivered"
	echo "$c" >>"$T_DIR/killed"
	# whose listener was it (a killed listener's processes may still finish a connection)?
	if [ "$parent" = "$LMTP_PID" ]; then
		echo "$c" >>"$T_DIR/killed.child"
		# before the next step, which may kill that listener at once (the
		# messages accepted can run ahead): its log line is checked below
		wait_until 30 grep -q "lmtp: connection process $c killed by signal 9" "$MXLOG"
	fi
}

: >"$T_DIR/killed"
: >"$T_DIR/killed.child"
# A client retries a 4xx for 90 s: after the milter's restart Postfix's
# resolver client may remember the socketmap's failure for 30 s.
SEND_MANY_ATTEMPTS=180 python3 "$MXPORT_SRCDIR/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$N" 20 crash.example \
	>"$T_DIR/send.out" 2>&1 &
SENDER=$!
T_PIDS="$T_PIDS $SENDER"

kill_child $((N * 15 / 100))

wait_until 120 accepted_at_least $((N * 35 / 100))
old=$LMTP_PID
kill -9 "$old"
echo "# kill -9 of the LMTP daemon $old after $(accepted) messages accepted"
wait_until 20 sh -c "! kill -0 $old"
lmtp_up
t_ok $? "the LMTP daemon restarted after its kill -9"

wait_until 120 accepted_at_least $((N * 55 / 100))
kill -0 "$SENDER" 2>/dev/null
t_ok $? "the milter's kill -9 comes during SMTP sessions (the sender is still sending)"
kill -9 "$MILTER_PID"
echo "# kill -9 of the milter after $(accepted) messages accepted"
wait "$MILTER_PID" 2>/dev/null
rm -f "$T_DIR/run/milter.sock" "$T_DIR/run/socketmap.sock"
start_milter

kill_child $((N * 75 / 100))

wait "$SENDER"
t_ok $? "every message accepted by the relay (the sender retries a 4xx, as a client does)"
sed 's/^/# sender: /' "$T_DIR/send.out"

# Drain: Postfix retries on its own; a flush now and then keeps it short
# (its resolver client may remember a lookup failure for 30 s).
deadline=$(($(date +%s) + 150))
while [ "$(pf_queue_count)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep 2
	pf_flush
done
t_eq "$(pf_queue_count)" 0 "the queue drained"

python3 - "$N" "$P" "$S" "$MXLOG" "$T_DIR/killed" >"$T_DIR/account" 2>&1 <<'PY'
import collections, glob, os, re, sys
n, peer, sink, log, killed = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def subjects(path):
    return [int(m) for m in re.findall(rb"^Subject: soak-(\d+)\r?$", open(path, "rb").read(), re.M)]
got = collections.Counter()
for p in glob.glob(os.path.join(peer, "msg.*")):
    for i in subjects(p):
        got[i] += 1
bounced = set()
for p in glob.glob(os.path.join(sink, "msg.*")):
    bounced.update(subjects(p))
pids = set(l.strip() for l in open(killed) if l.strip())
sent_by = collections.defaultdict(set)
for line in open(log, errors="replace"):
    m = re.search(r"mxport/transport\[(\d+)\]: \S+: to=<rcpt(\d+)@crash\.example>.*status=sent", line)
    if m:
        sent_by[int(m.group(2))].add(m.group(1))
# A process killed between the customer's reply to the dot and its log line
# leaves no line: its connection then ended right after that message, with
# no QUIT (a live process ends a session with QUIT). Such a copy is the
# last message of a session whose last command was DATA.
cut_short = set()
for sess in glob.glob(os.path.join(peer, "session.*")):
    s = sess.rsplit(".", 1)[1]
    lines = [l.strip() for l in open(sess, "rb").read().decode("latin-1").splitlines() if l.strip()]
    if not lines or lines[-1] != "DATA":
        continue
    # its messages: msg.S (the first), msg.S.K (the K-th)
    msgs = {1: os.path.join(peer, "msg.%s" % s)} if os.path.exists(os.path.join(peer, "msg.%s" % s)) else {}
    for f in glob.glob(os.path.join(peer, "msg.%s.*" % s)):
        msgs[int(f.rsplit(".", 1)[1])] = f
    if msgs:
        cut_short.update(subjects(msgs[max(msgs)]))
lost = [i for i in range(n) if i not in got]
dups = {i: c - 1 for i, c in got.items() if c > 1}
unexplained = [i for i in dups if not (sent_by[i] & pids) and i not in cut_short]
print("crash: %d sent, %d delivered, %d lost, %d duplicated (%d of them answered by the customer "
      "in a process then killed), %d bounced" % (n, len(got), len(lost), sum(dups.values()),
                                                 len(dups) - len(unexplained), len(bounced)))
if lost:
    print("lost: %s" % " ".join(map(str, lost[:50])))
if unexplained:
    print("unexplained duplicates: %s" % " ".join(map(str, unexplained[:50])))
sys.exit(1 if lost or unexplained or bounced else 0)
PY
rc=$?
sed 's/^/# /' "$T_DIR/account"
t_ok $rc "nothing lost, nothing bounced, a duplicate only where the customer had answered the dot in a killed process"
for c in $(cat "$T_DIR/killed.child" 2>/dev/null); do
	t_grep "$MXLOG" "lmtp: connection process $c killed by signal 9" "the listener logs the death of connection process $c"
done
t_done
