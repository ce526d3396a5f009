#!/bin/sh
# test_postfix_notify - the notices end to end on a real Postfix: a message
# for a customer whose server is down waits in a private Postfix's queue;
# the transport, run by pipe(8) at each retry, hands one notice to its
# sendmail_path, which puts it into the same Postfix's queue; Postfix
# delivers it to the contact's server (the senders' sink); the customer's
# server comes back, the message is delivered and a recovery notice follows.
#
# Postfix's own sendmail(1) refuses -C (a private instance) to a user other
# than root unless /etc/postfix/main.cf authorizes the directory, and the
# tests leave /etc/postfix alone: so sendmail_path here is a stand-in that
# takes sendmail's arguments and submits by SMTP to a second smtpd of the
# private Postfix (no milter, 127.0.0.1 trusted), where the notice is
# queued and delivered like any mail.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

start_peer contact '{}' # the contact's server: mail for sender.test goes there
PS=$PEER_PORT
S="$PEER_DIR"
DOWN=$(free_port)
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="notify_after = 3s
state_directory = $T_DIR/state
sendmail_path = $T_DIR/bin/sendmail-pf"
setup_mxport "down.example [127.0.0.1]:$DOWN notify=owner@sender.test"
mkdir -p "$T_DIR/state"
chown mxport "$T_DIR/state"
SUB_PORT=$(free_port)
sendmail_standin "$T_DIR/bin/sendmail-pf" "$SUB_PORT"
start_milter
start_postfix "$PS"
echo "127.0.0.1:$SUB_PORT inet n - n - - smtpd -o smtpd_milters= -o mynetworks=127.0.0.0/8" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >>"$PF/check.log" 2>&1
wait_for "postfix submission smtpd" python3 -c "import socket; socket.create_connection(('127.0.0.1', $SUB_PORT)).close()"

send_mail alice@sender.test erin@down.example >"$T_DIR/s1" 2>&1
t_ok $? "message for a customer whose server is down accepted"
wait_until 20 grep -q "to=<erin@down\.example>.*status=deferred" "$PF/maillog"
t_eq "$(count_msgs "$S")" 0 "first deferral: no notice yet"
wait_until 40 have_msgs "$S" 1
t_eq "$(count_msgs "$S")" 1 "deferred past notify_after: one notice arrives at the contact's server"
t_grep "$S/env.1" '^MAIL FROM:<>' "notice: null sender (-f <>), kept by Postfix"
t_grep "$S/env.1" '^RCPT TO:<owner@sender\.test>.?$' "notice: to the contact"
t_grep "$S/msg.1" '^Subject: Mail for down\.example is waiting' "notice: Subject"
t_grep "$S/msg.1" '^Messages waiting:  1 ' "notice: one message waits"
t_grep "$S/msg.1" "^Last error: +connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$DOWN: Connection refused.?$" "notice: the error Postfix also logged"
t_grep "$PF/maillog" "to=<owner@sender\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PS, .*status=sent" "Postfix delivered the notice itself (smtp, not the transport)"
n=$(grep -c "to=<erin@down\.example>.*status=deferred" "$PF/maillog")
wait_until 30 sh -c "[ \$(grep -c 'to=<erin@down\.example>.*status=deferred' '$PF/maillog') -ge $((n + 2)) ]"
t_eq "$(count_msgs "$S")" 1 "more retries, more deferrals: no second notice"

start_peer customer "{\"port\": $DOWN}"
C="$PEER_DIR"
wait_until 40 have_msgs "$C" 1
t_eq "$(count_msgs "$C")" 1 "server back: the waiting message is delivered"
wait_until 30 have_msgs "$S" 2
t_eq "$(count_msgs "$S")" 2 "server back: a recovery notice arrives"
t_grep "$S/msg.2" '^Subject: Mail for down\.example is delivered again.?$' "recovery notice: Subject"
t_grep "$S/msg.2" '^Messages that waited: 1;' "recovery notice: one message had waited"
# the notice can reach the sink before the transport, having queued it,
# removes the state file (under ASan, by a wide margin): wait for it
wait_until 20 sh -c "[ ! -e '$T_DIR/state/notify/down.example' ]"
t_ok "$([ ! -e "$T_DIR/state/notify/down.example" ]; echo $?)" "the outage is closed on disk"
wait_until 20 queue_empty
t_eq "$(pf_queue_count)" 0 "queue empty: the message and both notices are delivered"

t_done
