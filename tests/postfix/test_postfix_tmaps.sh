#!/bin/sh
# test_postfix_tmaps - the milter-less default path (contrib/postfix/main.cf):
# Postfix's relay check and transport_maps ask mxport's socketmap; delivery
# over LMTP (contrib/postfix/master.cf), pasted over the harness's milter path.
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
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock"
setup_mxport "example.com [127.0.0.1]:$PA
refuse.example [127.0.0.1]:$PR"
start_milter
start_postfix "$PS"
# contrib/postfix/main.cf instead of the harness's contrib/postfix/milter/main.cf
sed -i '/^smtpd_milters/d; /^milter_/d; /^relay_domains/d; /^transport_maps/d; /^smtpd_relay_restrictions/,/reject_unauth_destination/d; /^mxport_/d' "$PF/etc/main.cf"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" >>"$PF/etc/main.cf"
# Keep the test's own transport for the senders' sink in front of the socketmap.
postconf -c "$PF/etc" -e "transport_maps=inline:{ { sender.test = smtp:[127.0.0.1]:$PS } }, socketmap:unix:$T_DIR/run/socketmap.sock:transport" >/dev/null
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1
start_lmtp
sleep 1

send_mail alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "tmaps: message accepted"
wait_until 20 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "tmaps: delivered to the customer's port"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "tmaps: forged tags stripped by the transport"
t_grep "$PF/maillog" "to=<bob@example\\.com>, relay=.*lmtp\\.sock.*status=sent" "tmaps: routed by transport_maps to the LMTP service"
t_nogrep "$PF/maillog" "milter" "tmaps: no milter involved"

send_mail alice@sender.test x@unknown.test >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT x@unknown\\.test 550 " "tmaps: unknown domain refused (550)"

a_before=$(count_msgs "$A")
send_mail alice@sender.test carl@example.com,nobody@refuse.example >"$T_DIR/s3" 2>&1
wait_until 20 have_msgs "$A" $((a_before + 1))
wait_until 20 have_msgs "$S" 1
t_eq "$(count_msgs "$A")" $((a_before + 1)) "tmaps: mixed message: the accepted recipient delivered"
t_grep "$(ls "$S"/msg.* | head -1)" "550 5\\.1\\.1 No such user here" "tmaps: mixed message: the refused one bounced with the customer's text"

stop_milter
send_mail alice@sender.test w@example.com >"$T_DIR/s4" 2>&1
t_grep "$T_DIR/s4" "^RCPT w@example\\.com 4[0-9][0-9] " "tmaps: socketmap down: 4xx, nothing relayed"
send_mail alice@sender.test v@unknown.test >"$T_DIR/s5" 2>&1
t_nogrep "$T_DIR/s5" "^RCPT v@unknown\\.test 2" "tmaps: socketmap down: unknown domain not accepted (no open relay)"

t_done
