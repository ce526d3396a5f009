#!/bin/sh
# test_postfix - end to end on a real Postfix: contrib/postfix pasted into a
# private instance on loopback, mxport-milter, NSD with SRV routes, and the
# customers' servers (the project's peer) on alternate ports.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

# Customers: A (routes file), B (SRV), R (refuses), the senders' sink for
# bounces, and a port where a customer's server is down for now.
start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custB '{}'
PB=$PEER_PORT
B="$PEER_DIR"
start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
start_peer custR '{"rcpt": ["550-5.1.1 No such user here", "550 5.1.1 Ask the customer"]}'
PR=$PEER_PORT
R="$PEER_DIR"
start_peer burst '{}'
PBURST=$PEER_PORT
BURST="$PEER_DIR"
CLOSED=$(free_port)
DOWN=$(free_port)
sed -e "s/@PORT_B@/$PB/g" -e "s/@CLOSED@/$CLOSED/g" \
	"$MXPORT_SRCDIR/tests/postfix/postfix.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
dns_timeout = 2s
route_cache_max_ttl = 1s
route_cache_negative_ttl = 1s
mx_port = $PB"
setup_mxport "example.com [127.0.0.1]:$PA
example.net [127.0.0.1]:$PB
down.example [127.0.0.1]:$DOWN
refuse.example [127.0.0.1]:$PR
moved.example [127.0.0.1]:$CLOSED
burst.example [127.0.0.1]:$PBURST"
start_milter
start_postfix "$PS"

# 1. routes-file domain
send_mail alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "1: message for a routes-file domain accepted"
wait_until 20 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "1: delivered to the customer's alternate port"
t_grep "$A/env.1" "^MAIL FROM:<alice@sender\.test>" "1: envelope sender intact"
t_grep "$A/env.1" "^RCPT TO:<bob@example\.com>" "1: envelope recipient intact"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "1: no tag left (forged ones and ours stripped by the transport)"
t_grep "$A/msg.1" "^Subject: forged tags" "1: headers intact"
t_grep "$A/msg.1" "^\.\.a line with a leading dot" "1: body intact (dot-stuffed on the wire)"
t_grep "$MXLOG" "to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "1: transport logged the delivery"

# 2. SRV-only domain; two SRV targets with the first down
send_mail alice@sender.test carol@srvonly.test >"$T_DIR/s2" 2>&1
t_ok $? "2: message for an SRV-only domain accepted"
wait_until 20 have_msgs "$B" 1
t_eq "$(count_msgs "$B")" 1 "2: delivered at the SRV record's port"
t_grep "$MXLOG" "to=<carol@srvonly\.test>, relay=peer\.test\[127\.0\.0\.1\]:$PB, .*status=sent" "2: relay named by the SRV target"
send_mail alice@sender.test dan@twosrv.test >"$T_DIR/s2b" 2>&1
t_ok $? "2: message for a domain with two SRV targets accepted"
wait_until 20 have_msgs "$B" 2
t_eq "$(count_msgs "$B")" 2 "2: first SRV target down: delivered to the second"
t_grep "$MXLOG" "connect to peer\.test\[127\.0\.0\.1\]:$CLOSED: Connection refused" "2: the first target's failure is logged"

# 3. customer server down: deferred, not bounced; back and flushed: delivered once
send_mail alice@sender.test erin@down.example >"$T_DIR/s3" 2>&1
t_ok $? "3: message for a customer whose server is down accepted"
wait_until 20 grep -q "to=<erin@down\.example>.*status=deferred" "$PF/maillog"
t_grep "$PF/maillog" "to=<erin@down\.example>, relay=mxport, .*dsn=4\.4\.1, status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$DOWN: Connection refused ?\)" "3: Postfix logs the deferral with the transport's text"
t_eq "$(pf_queue_count)" 1 "3: the message waits in the queue"
t_eq "$(count_msgs "$S")" 0 "3: no bounce to the sender"
start_peer custC "{\"port\": $DOWN}"
C="$PEER_DIR"
pf_flush
wait_until 20 have_msgs "$C" 1
wait_until 10 queue_empty
t_eq "$(count_msgs "$C")" 1 "3: server back, queue flushed: delivered"
sleep 3
pf_flush
sleep 2
t_eq "$(count_msgs "$C")" 1 "3: delivered exactly once"
t_eq "$(pf_queue_count)" 0 "3: queue empty"

# 4. customer answers 5xx: the sender gets a DSN with the customer's words
send_mail alice@sender.test nobody@refuse.example >"$T_DIR/s4" 2>&1
t_ok $? "4: message accepted by the relay"
wait_until 20 have_msgs "$S" 1
t_eq "$(count_msgs "$S")" 1 "4: a bounce reached the sender's domain"
bounce=$(ls "$S"/msg.* 2>/dev/null | head -1)
t_grep "$bounce" "Status: 5\.1\.1" "4: DSN status is the customer's 5.1.1"
t_grep "$bounce" "550 5\.1\.1 No such user here" "4: DSN carries the customer's text"
t_grep "$bounce" "127\.0\.0\.1\]:$PR said" "4: DSN names the customer's host and port"
t_grep "$S/env.1" "^MAIL FROM:<>" "4: the bounce has the null sender"

# 5. unknown domain refused; SERVFAIL 451; milter stopped 4xx, nothing relayed
send_mail alice@sender.test x@unknown.test >"$T_DIR/s5" 2>&1
t_grep "$T_DIR/s5" "^RCPT x@unknown\.test 5[0-9][0-9] " "5: unknown domain refused at RCPT with 5xx"
grep -q "^milter_default_action = tempfail" "$MXPORT_SRCDIR/contrib/postfix/milter/main.cf"
t_ok $? "5: contrib main.cf has milter_default_action = tempfail"

start_dnsstub servfail
sed -i "s/^dns_servers = .*/dns_servers = 127.0.0.1:$STUB_PORT/" "$T_DIR/etc/mxport.conf"
hup_milter
sleep 1.5 # the cached answers' TTL (route_cache_max_ttl = 1s)
send_mail alice@sender.test y@srvonly.test >"$T_DIR/s5b" 2>&1
t_grep "$T_DIR/s5b" "^RCPT y@srvonly\.test 451 " "5: DNS SERVFAIL: 451 at RCPT"
send_mail alice@sender.test z@example.com >"$T_DIR/s5c" 2>&1
t_grep "$T_DIR/s5c" "^RCPT z@example\.com 250 " "5: during SERVFAIL, routes-file domains still accepted"
wait_until 20 have_msgs "$A" 2
kill -0 "$MILTER_PID"
t_ok $? "5: SIGHUP reloaded the milter; it is still running"
# A bad configuration on reload: the old one stays.
echo "bogus_key = 1" >>"$T_DIR/etc/mxport.conf"
kill -HUP "$MILTER_PID"
wait_until 10 grep -q "keeping the configuration in force" "$MXLOG"
t_grep "$MXLOG" "reload: .*mxport\.conf:[0-9]+: bogus_key: unknown key" "5: bad reload names file, line and key"
sed -i '/^bogus_key/d' "$T_DIR/etc/mxport.conf"
sed -i "s/^dns_servers = .*/dns_servers = 127.0.0.1:$NSD_PORT/" "$T_DIR/etc/mxport.conf"
kill -HUP "$MILTER_PID"
kill -HUP "$MILTER_PID"
sleep 1.5
kill -0 "$MILTER_PID"
t_ok $? "5: two quick SIGHUPs: the milter keeps running"

stop_milter
send_mail alice@sender.test w@example.com >"$T_DIR/s5d" 2>&1
t_grep "$T_DIR/s5d" "^(MAIL|RCPT w@example\.com) 4[0-9][0-9] " "5: milter stopped: forwarded domain gets 4xx"
send_mail alice@sender.test v@unknown.test >"$T_DIR/s5e" 2>&1
t_nogrep "$T_DIR/s5e" "^RCPT v@unknown\.test 2" "5: milter stopped: unknown domain not accepted (no open relay)"
t_grep "$PF/maillog" "milter-reject: MAIL from .* 451 4\.7\.1 " "5: milter stopped: Postfix logs a temporary refusal"
t_nogrep "$T_DIR/s5d" "^DATA" "5: milter stopped: nothing relayed"
# Even an admin who sets milter_default_action = accept does not get an open
# relay: the relay check asks the socketmap, which is down with the milter.
postconf -c "$PF/etc" -e milter_default_action=accept
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1
send_mail alice@sender.test u@unknown.test >"$T_DIR/s5f" 2>&1
t_grep "$T_DIR/s5f" "^RCPT u@unknown\.test 4[0-9][0-9] " "5: milter down, default action accept: unknown domain still refused"
send_mail alice@sender.test t@example.com >"$T_DIR/s5g" 2>&1
t_grep "$T_DIR/s5g" "^RCPT t@example\.com 4[0-9][0-9] " "5: milter down, default action accept: forwarded domain waits (4xx)"
postconf -c "$PF/etc" -e milter_default_action=tempfail
postfix -c "$PF/etc" reload >/dev/null 2>&1
reloads=$(milter_reloads)
start_milter hup
wait_until 10 milter_reloads_above "$reloads"
milter_reloads_above "$reloads"
t_ok $? "5: SIGHUPs from the moment the milter's socket appears are reloads"
# The kernel may hand a SIGHUP to libmilter's signal thread, which would
# stop the milter: one sent to that thread itself must not.
t_eq "$(python3 "$MXPORT_SRCDIR/tests/lib/hup_sigwaiter.py" "$MILTER_PID")" 1 "5: libmilter's signal thread found"
sleep 3 # libmilter notices a stop request within a second or two
kill -0 "$MILTER_PID"
t_ok $? "5: ... and do not stop it, not even the one libmilter's signal thread gets"

# 6. route changed while the message is queued
send_mail alice@sender.test fay@moved.example >"$T_DIR/s6" 2>&1
t_ok $? "6: message accepted while its route points at a dead port"
wait_until 20 grep -q "to=<fay@moved\.example>.*status=deferred" "$PF/maillog"
t_grep "$PF/maillog" "to=<fay@moved\.example>.*status=deferred" "6: deferred"
sed -i "s|^moved.example .*|moved.example [127.0.0.1]:$PB|" "$T_DIR/etc/routes"
before=$(count_msgs "$B")
pf_flush
wait_until 20 have_msgs "$B" $((before + 1))
t_eq "$(count_msgs "$B")" $((before + 1)) "6: delivered to the new route after the routes file changed"
wait_until 10 queue_empty

# 7. two forwarded domains and a rejected one in one message
a_before=$(count_msgs "$A")
b_before=$(count_msgs "$B")
send_mail alice@sender.test gus@example.com,hal@example.net,ivy@unknown.test >"$T_DIR/s7" 2>&1
t_grep "$T_DIR/s7" "^RCPT ivy@unknown\.test 5" "7: the third domain is refused at RCPT"
t_grep "$T_DIR/s7" "^DATA 250 " "7: the message is accepted for the other two"
wait_until 20 have_msgs "$A" $((a_before + 1))
wait_until 20 have_msgs "$B" $((b_before + 1))
na=$(ls -t "$A"/env.* | head -1)
nb=$(ls -t "$B"/env.* | head -1)
t_eq "$(grep -c '^RCPT' "$na")" 1 "7: customer A's copy has one recipient"
t_grep "$na" "^RCPT TO:<gus@example\.com>" "7: customer A's copy is for its own recipient"
t_eq "$(grep -c '^RCPT' "$nb")" 1 "7: customer B's copy has one recipient"
t_grep "$nb" "^RCPT TO:<hal@example\.net>" "7: customer B's copy is for its own recipient"
sleep 2
t_eq "$(count_msgs "$A")" $((a_before + 1)) "7: customer A got one copy"
t_eq "$(count_msgs "$B")" $((b_before + 1)) "7: customer B got one copy"

# 8. a forged tag never routes mail that the milter did not tag: mail that
# does not pass the milter (local submission) keeps its forged header, but
# Postfix routes it the ordinary way, not to the transport.
s_before=$(count_msgs "$S")
/usr/sbin/sendmail -C "$PF/etc" -f alice@sender.test jo@sender.test <"$MXPORT_SRCDIR/tests/postfix/forged.eml"
wait_until 20 have_msgs "$S" $((s_before + 1))
t_eq "$(count_msgs "$S")" $((s_before + 1)) "8: locally submitted mail with a forged tag went the ordinary way"
t_nogrep "$PF/maillog" "to=<jo@sender\.test>, relay=mxport" "8: the forged tag did not route it to the transport"
t_nogrep "$MXLOG" "mxport/transport.*to=<jo@sender\.test>" "8: the transport never saw it"

# 10. a domain the relay serves itself: unknown_domains = reject refuses it
# at RCPT with the milter's own words; accept lets it through untagged.
postconf -c "$PF/etc" -e "relay_domains=local.test, $(postconf -c "$PF/etc" -h relay_domains)" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sed -i 's/^unknown_domains = accept$/unknown_domains = reject/' "$T_DIR/etc/mxport.conf"
hup_milter
send_mail alice@sender.test kim@local.test >"$T_DIR/s10" 2>&1
t_grep "$T_DIR/s10" "^RCPT kim@local\.test 550 5\.7\.1 Recipient domain local\.test is not forwarded" "10: unknown_domains = reject: the milter refuses with 550 5.7.1"
t_grep "$MXLOG" "NOQUEUE: reject: client=unknown\[127\.0\.0\.1\], to=<kim@local\.test>, 550 5\.7\.1 " "10: ... and logs the refused recipient"
sed -i 's/^unknown_domains = reject$/unknown_domains = accept/' "$T_DIR/etc/mxport.conf"
hup_milter
s_before=$(count_msgs "$S")
send_mail alice@sender.test kim@local.test >"$T_DIR/s10b" 2>&1
t_grep "$T_DIR/s10b" "^DATA 250 " "10: unknown_domains = accept: accepted"
wait_until 20 have_msgs "$S" $((s_before + 1))
t_eq "$(count_msgs "$S")" $((s_before + 1)) "10: ... and delivered the ordinary way"
t_nogrep "$PF/maillog" "to=<kim@local\.test>, relay=mxport" "10: ... not through the transport"
# With unknown_domains = accept the milter no longer refuses, so the relay
# check alone must keep subdomains of a forwarded domain out: Postfix asks
# relay_domains tables for parent domains too (parent_domain_matches_subdomains).
send_mail alice@sender.test x@sub.srvonly.test >"$T_DIR/s10c" 2>&1
t_grep "$T_DIR/s10c" "^RCPT x@sub\.srvonly\.test 5[0-9][0-9] " "10: a subdomain of a forwarded domain is not relayed (no open relay)"

# 11. a trusted client sends one message to a forwarded and an ordinary
# domain: the tag routes a whole message, so the ordinary one gets 452 and
# comes in a transaction of its own, which Postfix delivers as without
# mxport; the forwarded one goes by its route (tests/postfix/test_postfix_routing.sh
# has every mixed case).
echo "trusted_networks = 127.0.0.0/8" >>"$T_DIR/etc/mxport.conf"
hup_milter
postconf -c "$PF/etc" -e "mynetworks=127.0.0.0/8" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1
a_before=$(count_msgs "$A")
s_before=$(count_msgs "$S")
send_mail alice@sender.test lou@example.com,zed@local.test >"$T_DIR/s11" 2>&1
t_grep "$T_DIR/s11" "^RCPT zed@local\.test 452 4\.5\.3 " "11: trusted client: the ordinary domain after a forwarded one gets 452"
t_grep "$T_DIR/s11" "^RCPT zed@local\.test 250 " "11: ... and is accepted in a transaction of its own"
wait_until 20 have_msgs "$A" $((a_before + 1))
wait_until 20 have_msgs "$S" $((s_before + 1))
t_grep "$(ls -t "$A"/env.* | head -1)" "^RCPT TO:<lou@example\.com>" "11: forwarded recipient delivered by its route"
t_grep "$(ls -t "$S"/env.* | head -1)" "^RCPT TO:<zed@local\.test>" "11: ordinary recipient delivered the ordinary way"
t_nogrep "$MXLOG" "mxport/transport.*to=<zed@local\.test>" "11: the transport never saw it"
t_grep "$MXLOG" "forwarded=1 \(<lou@example\.com>\).*trusted client" "11: the milter logs the trusted client"
postconf -c "$PF/etc" -e "mynetworks=192.0.2.1/32" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sed -i '/^trusted_networks/d' "$T_DIR/etc/mxport.conf"
hup_milter

# 9. a burst of 1000 messages through the whole path
need smtp-source
start=$(now_ms)
smtp-source -s 20 -m 1000 -l 2048 -f alice@sender.test -t rcpt@burst.example "127.0.0.1:$PF_PORT" >"$T_DIR/s9" 2>&1
t_ok $? "9: smtp-source sent 1000 messages"
wait_until 240 have_msgs "$BURST" 1000
elapsed=$(($(now_ms) - start))
t_eq "$(count_msgs "$BURST")" 1000 "9: 1000 delivered (${elapsed} ms)"
wait_until 30 queue_empty
t_eq "$(pf_queue_count)" 0 "9: queue empty"
sleep 2
t_eq "$(count_msgs "$BURST")" 1000 "9: no duplicates"

t_done
