#!/bin/sh
# test_postfix_lmtp - the LMTP variant of contrib/postfix (contrib/postfix/lmtp):
# Postfix's lmtp(8) talks to mxport-transport running as a daemon; a result
# per recipient, no process per message.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custR '{"rcpt": "550 5.1.1 No such user here"}'
PR=$PEER_PORT
start_peer senders '{}'
S="$PEER_DIR"
PS=$PEER_PORT
start_peer burst '{}'
PBURST=$PEER_PORT
BURST="$PEER_DIR"
DOWN=$(free_port)
PF_PORT=$(free_port)
# What contrib/postfix/README.md says for this variant: transport_maps
# (mail that meets no milter) answers the LMTP service too.
MXPORT_EXTRA_CONF="postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock"
setup_mxport "example.com [127.0.0.1]:$PA
refuse.example [127.0.0.1]:$PR
down.example [127.0.0.1]:$DOWN
burst.example [127.0.0.1]:$PBURST"
start_milter
start_postfix "$PS"
# The LMTP variant, as contrib/postfix/lmtp has it.
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1
start_lmtp
sleep 1

send_mail alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "lmtp: message accepted"
wait_until 20 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "lmtp: delivered to the customer's port"
t_grep "$A/env.1" "^RCPT TO:<bob@example\\.com>" "lmtp: envelope intact"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "lmtp: no tag left"
t_grep "$PF/maillog" "to=<bob@example\\.com>, relay=.*lmtp\\.sock.*status=sent \\(250 2\\.0\\.0 <bob@example\\.com>: sent via 127\\.0\\.0\\.1" "lmtp: Postfix logs the transport's per-recipient reply"

# One message, a recipient the customer refuses and one it takes: exact results.
a_before=$(count_msgs "$A")
send_mail alice@sender.test carl@example.com,nobody@refuse.example >"$T_DIR/s2" 2>&1
t_ok $? "lmtp: two-domain message accepted"
wait_until 20 have_msgs "$A" $((a_before + 1))
t_eq "$(count_msgs "$A")" $((a_before + 1)) "lmtp: the accepted recipient is delivered"
wait_until 20 have_msgs "$S" 1
t_grep "$(ls "$S"/msg.* | head -1)" "550 5\\.1\\.1 No such user here" "lmtp: the refused one bounces with the customer's text"
t_grep "$PF/maillog" "to=<carl@example\\.com>, relay=.*status=sent" "lmtp: per recipient: sent"
t_grep "$PF/maillog" "to=<nobody@refuse\\.example>, relay=.*status=bounced" "lmtp: per recipient: bounced"

# Customer down: deferred, not bounced; back + flush: delivered once.
send_mail alice@sender.test dee@down.example >"$T_DIR/s3" 2>&1
wait_until 20 grep -q "to=<dee@down\\.example>.*status=deferred" "$PF/maillog"
t_grep "$PF/maillog" "to=<dee@down\\.example>.*status=deferred .*4\\.4\\.1" "lmtp: customer down: deferred with 4.4.1"
start_peer custC "{\"port\": $DOWN}"
C="$PEER_DIR"
pf_flush
wait_until 20 have_msgs "$C" 1
wait_until 10 queue_empty
t_eq "$(count_msgs "$C")" 1 "lmtp: server back, flushed: delivered once"

# A burst: one process serves many messages.
start=$(now_ms)
smtp-source -s 20 -m 500 -l 2048 -f alice@sender.test -t rcpt@burst.example "127.0.0.1:$PF_PORT" >/dev/null 2>&1
wait_until 120 have_msgs "$BURST" 500
t_eq "$(count_msgs "$BURST")" 500 "lmtp: 500-message burst delivered ($(($(now_ms) - start)) ms)"
wait_until 30 queue_empty
t_eq "$(pf_queue_count)" 0 "lmtp: queue empty"

t_done
