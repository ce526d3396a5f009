#!/bin/sh
# test_sendmail - end to end on a real Sendmail 8.17: contrib/sendmail built
# into a private .cf, mxport-milter, NSD with SRV routes, and the customers'
# servers on alternate ports.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/sendmail.sh"
need python3

start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custB '{}'
PB=$PEER_PORT
B="$PEER_DIR"
start_peer custR '{"rcpt": ["550-5.1.1 No such user here", "550 5.1.1 Ask the customer"]}'
PR=$PEER_PORT
start_peer senders '{"host": "127.0.0.2"}'
PS=$PEER_PORT
S="$PEER_DIR"
start_peer custM '{"rcpt": {"default": "250 2.1.5 Ok", "nobody@mixed.example": "550 5.1.1 No such user here"}}'
PM=$PEER_PORT
M="$PEER_DIR"
DOWN=$(free_port)
CLOSED=$(free_port)
sed -e "s/@PORT_B@/$PB/g" -e "s/@CLOSED@/$CLOSED/g" \
	"$MXPORT_SRCDIR/tests/postfix/postfix.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

SM_PORT=$(free_port)
PF_PORT=$SM_PORT # setup_mxport's loop guard: this relay's own port
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
dns_timeout = 2s"
setup_mxport "example.com [127.0.0.1]:$PA
down.example [127.0.0.1]:$DOWN
refuse.example [127.0.0.1]:$PR
mixed.example [127.0.0.1]:$PM"
start_milter
start_sendmail "$PS"

# 1. routes-file domain and SRV-only domain
send_sm alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "1: message for a routes-file domain accepted"
wait_until 30 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "1: delivered at the customer's alternate port"
t_grep "$A/env.1" "^MAIL FROM:<alice@sender\\.test>" "1: envelope sender intact"
t_grep "$A/env.1" "^RCPT TO:<bob@example\\.com>" "1: envelope recipient intact (whole address in \$u)"
t_grep "$A/msg.1" "^Subject: forged tags" "1: headers intact"
t_eq "$(head -c 9 "$A/msg.1")" "Received:" "1: the message starts with Sendmail's Received: header (no UNIX From line)"
t_grep "$A/msg.1" "^\\.\\.a line with a leading dot" "1: body intact"
# 5. forged tags: the milter reads no headers (Sendmail routes by
# mailertable, not by the tag); the transport strips every copy
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "5: forged tag headers gone, no tag left"
t_grep "$MXLOG" "forwarded=1 \\(<bob@example\\.com>\\), local=0, separated=0, decision=tagged example\\.com" "5: the milter tagged the message"

send_sm alice@sender.test carol@srvonly.test >"$T_DIR/s1b" 2>&1
t_ok $? "1: message for an SRV-only domain accepted"
wait_until 30 have_msgs "$B" 1
t_eq "$(count_msgs "$B")" 1 "1: SRV-only domain delivered at the SRV port"
t_grep "$B/env.1" "^RCPT TO:<carol@srvonly\\.test>" "1: SRV-only: envelope recipient intact"

# 2. customer down: queued; back and a queue run: delivered once
send_sm alice@sender.test erin@down.example >"$T_DIR/s2" 2>&1
t_ok $? "2: message for a customer whose server is down accepted"
wait_until 20 grep -q "to=<erin@down\\.example>.*status=deferred" "$MXLOG"
sleep 1
t_eq "$(sm_queue_count)" 1 "2: the message waits in Sendmail's queue"
t_eq "$(count_msgs "$S")" 0 "2: no bounce"
start_peer custC "{\"port\": $DOWN}"
C="$PEER_DIR"
sm_queue_run
wait_until 30 have_msgs "$C" 1
t_eq "$(count_msgs "$C")" 1 "2: server back, queue run: delivered"
sleep 3
sm_queue_run
t_eq "$(count_msgs "$C")" 1 "2: delivered exactly once"
t_eq "$(sm_queue_count)" 0 "2: queue empty"

# 3. customer 5xx: a DSN with the customer's text
send_sm alice@sender.test nobody@refuse.example >"$T_DIR/s3" 2>&1
t_ok $? "3: message accepted by the relay"
wait_until 30 have_msgs "$S" 1
t_eq "$(count_msgs "$S")" 1 "3: a bounce reached the sender's domain"
bounce=$(ls "$S"/msg.* 2>/dev/null | head -1)
t_grep "$bounce" "550 5\\.1\\.1 No such user here" "3: DSN carries the customer's text"
t_grep "$bounce" "Status: 5\\.1\\.1" "3: DSN status 5.1.1"
t_grep "$bounce" "127\\.0\\.0\\.1\\]:$PR said" "3: DSN names the customer's host and port"

# 4. unknown domain refused at RCPT; milter stopped: 4xx, nothing relayed
send_sm alice@sender.test x@unknown.test >"$T_DIR/s4" 2>&1
t_grep "$T_DIR/s4" "^RCPT x@unknown\\.test 5[0-9][0-9] " "4: unknown domain refused at RCPT"
stop_milter
send_sm alice@sender.test w@example.com >"$T_DIR/s4b" 2>&1
t_grep "$T_DIR/s4b" "^(MAIL|RCPT w@example\\.com) 4[0-9][0-9] " "4: milter stopped: 4xx"
t_nogrep "$T_DIR/s4b" "^DATA 250" "4: milter stopped: nothing accepted"
send_sm alice@sender.test v@unknown.test >"$T_DIR/s4c" 2>&1
t_nogrep "$T_DIR/s4c" "^RCPT v@unknown\\.test 2" "4: milter stopped: unknown domain not accepted (no open relay)"
start_milter

# 6. the LMTP mailer (mailertable_mailer = mxport_lmtp): one run for two
# recipients, a status each. The customer refuses one: it bounces; the
# other was held back (all or nothing per transaction), is retried alone,
# and arrives once.
sed -i '/^mailertable_mailer/d' "$T_DIR/etc/mxport.conf"
echo "mailertable_mailer = mxport_lmtp" >>"$T_DIR/etc/mxport.conf"
hup_milter
s_before=$(count_msgs "$S")
send_sm alice@sender.test bob@mixed.example,nobody@mixed.example >"$T_DIR/s6" 2>&1
t_ok $? "6: LMTP mailer: message accepted"
wait_until 30 have_msgs "$S" $((s_before + 1))
t_eq "$(count_msgs "$S")" $((s_before + 1)) "6: LMTP mailer: the refused recipient bounced"
t_grep "$(ls -t "$S"/msg.* | head -1)" "nobody@mixed\.example" "6: LMTP mailer: the bounce names the refused recipient only"
t_grep "$T_DIR/sendmail/traffic.log" "=== EXEC mxport-transport .* -L -" "6: Sendmail ran the transport in LMTP mode"
wait_until 30 have_msgs "$M" 1
t_eq "$(count_msgs "$M")" 1 "6: LMTP mailer: the other recipient delivered"
t_grep "$(ls "$M"/env.* | head -1)" "^RCPT TO:<bob@mixed\.example>" "6: LMTP mailer: ... to bob only"
sm_queue_run
sleep 2
t_eq "$(count_msgs "$M")" 1 "6: LMTP mailer: exactly once"

# 7. the relay check alone keeps the relay closed: with unknown_domains =
# accept the milter refuses nothing, and the access map (the socket map)
# still relays exactly the forwarded domains.
sed -i '/^unknown_domains/d' "$T_DIR/etc/mxport.conf"
echo "unknown_domains = accept" >>"$T_DIR/etc/mxport.conf"
hup_milter
send_sm alice@sender.test x@unknown.test >"$T_DIR/s7" 2>&1
t_grep "$T_DIR/s7" "^RCPT x@unknown\.test 550 .*Relaying denied" "7: unknown domain: Sendmail's relay check refuses it (550)"
send_sm alice@sender.test y@sub.example.com >"$T_DIR/s7b" 2>&1
t_grep "$T_DIR/s7b" "^RCPT y@sub\.example\.com 550 " "7: a subdomain of a forwarded domain is not relayed"
send_sm alice@sender.test carol@srvonly.test >"$T_DIR/s7c" 2>&1
t_grep "$T_DIR/s7c" "^RCPT carol@srvonly\.test 250 " "7: an SRV-only domain is relayed (the socket map asks DNS)"

# 8. a transaction the client gives up (RSET) ends the milter's message too:
# Sendmail sends no abort to a milter that skips MAIL, so the milter sees
# the new transaction by its queue id. With the forwarded recipient of the
# first one still counted, <postmaster> would get 452 (kinds mixed).
python3 - "$SM_PORT" >"$T_DIR/s8" 2>&1 <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP(source_address=("127.0.0.3", 0))
s.connect("127.0.0.1", int(sys.argv[1]))
s.ehlo("client.test")
s.mail("alice@sender.test")
print("RCPT 1", s.rcpt("bob@example.com")[0])
s.rset()
s.mail("alice@sender.test")
print("RCPT 2", s.rcpt("<postmaster>")[0])
s.rset()
s.quit()
PYEOF
t_grep "$T_DIR/s8" "^RCPT 1 250" "8: forwarded recipient accepted in the first transaction"
t_grep "$T_DIR/s8" "^RCPT 2 250" "8: after RSET, <postmaster> starts a new message (no 452)"

t_done
