#!/bin/sh
# test_lmtp_queueid - one log line per delivery attempt that an admin can
# grep by Postfix's queue id: the LMTP front offers XFORWARD IDENT, Postfix's
# lmtp(8) sends its queue id, and mxport's line for the delivery, logged
# through Postfix's postlog socket into its maillog, carries that queue id
# and the customer's host[address]:port, delay, dsn and status in Postfix's
# shape; a deferral likewise. In Sendmail's LMTP mailer mode (-L -), -q
# (Sendmail's $i) gives the queue id.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix setpriv

start_peer cust '{}'
PC=$PEER_PORT
C="$PEER_DIR"
start_peer senders '{}'
PS=$PEER_PORT
DOWN=$(free_port)
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock"
setup_mxport "cust.example [127.0.0.1]:$PC
down.example [127.0.0.1]:$DOWN"
start_milter
start_postfix "$PS"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1
# The LMTP daemon logs where Postfix does (postlog_socket; its user is in
# group postdrop, as mxport-setup makes it), and nowhere else.
grep -v '^log_file' "$T_DIR/etc/mxport.conf" >"$T_DIR/etc/lmtp.conf"
echo "postlog_socket = $PF/queue/public/postlog" >>"$T_DIR/etc/lmtp.conf"
chmod 644 "$T_DIR/etc/lmtp.conf"
wait_until 20 test -S "$PF/queue/public/postlog"
chown mxport "$T_DIR/run"
setpriv --reuid=mxport --regid=mxport --groups=postfix,postdrop -- "$T_DIR/bin/mxport-transport" \
	-c "$T_DIR/etc/lmtp.conf" -L "unix:$T_DIR/run/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "LMTP daemon" test -S "$T_DIR/run/lmtp.sock"

send_mail alice@sender.test u1@cust.example >"$T_DIR/s1" 2>&1
t_ok $? "message 1 accepted"
send_mail alice@sender.test u2@down.example >"$T_DIR/s2" 2>&1
t_ok $? "message 2 (its server down) accepted"
wait_until 30 have_msgs "$C" 1
t_eq "$(count_msgs "$C")" 1 "message 1 delivered"

# qid RCPT - Postfix's queue id of the message to RCPT (from its own lines)
qid() {
	sed -n "s/.*postfix[^:]*: \\([0-9A-Za-z]*\\): to=<$1>.*/\\1/p" "$PF/maillog" | head -1
}
wait_until 30 grep -q "to=<u1@cust\\.example>, relay=[^,]*lmtp\\.sock\\]" "$PF/maillog"
Q1=$(qid 'u1@cust\.example')
t_ok "$([ -n "$Q1" ]; echo $?)" "Postfix logged message 1's delivery (queue id $Q1)"
wait_until 20 sh -c "grep -c '$Q1: ' '$PF/maillog' | grep -qv '^[0-2]$'"
grep "$Q1" "$PF/maillog" >"$T_DIR/q1.log"
t_grep "$T_DIR/q1.log" "mxport/transport\\[[0-9]+\\]: $Q1: to=<u1@cust\\.example>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PC, delay=[0-9.]+, tls=[a-z]+, dsn=2\\.0\\.0, status=sent \\(250 " "grep QUEUEID maillog: mxport's line with the customer's host[address]:port, delay, dsn, status"
t_grep "$T_DIR/q1.log" "postfix.*: $Q1: to=<u1@cust\\.example>, relay=[^,]*lmtp\\.sock\\].*status=sent \\(250 2\\.0\\.0 <u1@cust\\.example>: sent via 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PC" "grep QUEUEID maillog: Postfix's own line names the customer's server too"
t_eq "$(grep -c "mxport/transport.*: $Q1: to=<u1@cust\\.example>" "$PF/maillog")" 1 "one mxport line for the one delivery attempt"

wait_until 30 grep -q "to=<u2@down\\.example>, relay=[^,]*lmtp\\.sock\\].*status=deferred" "$PF/maillog"
Q2=$(qid 'u2@down\.example')
t_grep "$PF/maillog" "mxport/transport\\[[0-9]+\\]: $Q2: to=<u2@down\\.example>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$DOWN, delay=[0-9.]+, tls=[a-z]+, dsn=4\\.[0-9.]+, status=deferred \\(" "a deferral: mxport's line carries the queue id and the server it tried"
t_nogrep "$PF/maillog" "mxport/transport.*: L[0-9]+\\.[0-9]+: to=" "no delivery line with mxport's own id when Postfix gave its own"

# Sendmail's LMTP mailer mode: -q $i.
printf '%s\r\n' "LHLO test" "MAIL FROM:<alice@sender.test>" "RCPT TO:<u3@cust.example>" \
	"DATA" "Subject: sendmail" "" "body" "." "QUIT" >"$T_DIR/lmtp.in"
as_user "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -q 4B8Mx0Q3012345 -L - \
	<"$T_DIR/lmtp.in" >"$T_DIR/lmtp.out" 2>&1
t_grep "$T_DIR/lmtp.out" "^250 2\\.0\\.0 <u3@cust\\.example>: sent" "-q with -L -: delivered"
t_grep "$MXLOG" "4B8Mx0Q3012345: to=<u3@cust\\.example>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PC, delay=" "-q with -L -: the line carries Sendmail's queue id"
t_done
