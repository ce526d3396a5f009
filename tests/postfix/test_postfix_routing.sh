#!/bin/sh
# test_postfix_routing - every recipient goes where Postfix would send it:
# forwarded recipients to the customer, the relay's own (local domains,
# bare postmaster) the ordinary way, never mixed in one message, from an
# outside client and from a trusted one; mail that enters without SMTP
# (sendmail(1), Postfix's own DSNs) reaches the customer too; forged tags
# route nothing and reach no customer, 12,000 of them included.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix ip

# An outside client: an address of its own, not in mynetworks.
OUTSIDE=198.51.100.7
if ip addr add "$OUTSIDE/32" dev lo 2>/dev/null; then
	T_STOP="ip addr del $OUTSIDE/32 dev lo;"
fi
ip addr show dev lo | grep -q "inet $OUTSIDE/" || {
	echo "Bail out! cannot put $OUTSIDE on lo"
	exit 99
}

start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custB '{}'
PB=$PEER_PORT
B="$PEER_DIR"
start_peer custR '{"rcpt": "550 5.1.1 No such user here"}'
PR=$PEER_PORT
start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="trusted_networks = 127.0.0.1/32"
setup_mxport "example.com [127.0.0.1]:$PA
example.net [127.0.0.1]:$PB
refuse.example [127.0.0.1]:$PR"
start_milter
start_postfix "$PS"
# This relay's own domain relay.test (bare postmaster lands there), whose
# postmaster is an alias for a mailbox in local.test (the sender sink);
# local.test is relayed the ordinary way; 127.0.0.1 is a trusted client.
postconf -c "$PF/etc" -e "mydestination=relay.test" \
	"alias_maps=inline:{ { postmaster = pm@local.test }, { fwd = ops@example.com } }" \
	"relay_domains=local.test, $(postconf -c "$PF/etc" -h relay_domains)" \
	"mynetworks=127.0.0.1/32" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1

outside() { SENDMSG_SOURCE=$OUTSIDE send_mail "$@"; }
# rcpt_in DIR ADDR - the env file of DIR's copy for ADDR
rcpt_in() { grep -l "^RCPT TO:<$2>" "$1"/env.* 2>/dev/null | head -1; }
got() { [ -n "$(rcpt_in "$1" "$2")" ]; }
# sent_to ADDR - Postfix logged ADDR as sent
sent_to() { grep -Eq "to=<$1>.*status=sent" "$PF/maillog"; }

# 1. outside client, unknown_domains = reject: a forwarded recipient, then
# bare postmaster: postmaster gets 452 and comes in a second transaction.
outside alice@sender.test bob@example.com,postmaster >"$T_DIR/s1" 2>&1
t_grep "$T_DIR/s1" "^RCPT bob@example\.com 250 " "1: outside: forwarded recipient accepted"
t_grep "$T_DIR/s1" "^RCPT postmaster 452 4\.5\.3 " "1: outside: postmaster after it gets 452 4.5.3"
t_eq "$(grep -c '^DATA 250 ' "$T_DIR/s1")" 2 "1: outside: the client sent postmaster in a transaction of its own"
wait_until 20 got "$A" bob@example.com
wait_until 20 got "$S" pm@local.test
t_ok $? "1: postmaster delivered the ordinary way (its alias, then local.test)"
t_eq "$(grep -c '^RCPT' "$(rcpt_in "$A" bob@example.com)")" 1 "1: the customer's copy is for bob alone"
t_nogrep "$MXLOG" "mxport/transport.*to=<(postmaster|pm)@" "1: the transport never saw postmaster"
t_grep "$PF/maillog" "to=<pm@local\.test>, orig_to=<postmaster(@relay\.test)?>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PS, .*status=sent" "1: Postfix delivered it itself"
t_grep "$MXLOG" "forwarded=1 \(<bob@example\.com>\), local=0, separated=1, decision=tagged example\.com" "1: the milter logs the separated recipient"

# 2. the same the other way round: postmaster first, the forwarded one waits
outside alice@sender.test postmaster,carl@example.com >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT postmaster 250 " "2: outside: postmaster first accepted"
t_grep "$T_DIR/s2" "^RCPT carl@example\.com 452 4\.5\.3 " "2: outside: the forwarded one after it gets 452"
wait_until 20 got "$A" carl@example.com
t_ok $? "2: ... and reaches the customer in its own transaction"
t_eq "$(grep -c '^RCPT' "$(rcpt_in "$A" carl@example.com)")" 1 "2: the customer's copy is for carl alone"

# 3. recipients of two forwarded domains share a message (pipe groups by domain)
outside alice@sender.test dan@example.com,eve@example.net >"$T_DIR/s3" 2>&1
t_grep "$T_DIR/s3" "^RCPT eve@example\.net 250 " "3: two forwarded domains: both accepted"
t_eq "$(grep -c '^MAIL' "$T_DIR/s3")" 1 "3: ... in one transaction"
wait_until 20 got "$A" dan@example.com
wait_until 20 got "$B" eve@example.net
t_ok $? "3: each reaches its own customer"

# 4. outside client, unknown_domains = accept: another domain this relay
# relays itself (local.test) next to a forwarded one, both orders
sed -i 's/^unknown_domains = .*/unknown_domains = accept/' "$T_DIR/etc/mxport.conf"
grep -q '^unknown_domains = accept' "$T_DIR/etc/mxport.conf" || echo "unknown_domains = accept" >>"$T_DIR/etc/mxport.conf"
hup_milter
outside alice@sender.test fay@example.com,kim@local.test >"$T_DIR/s4" 2>&1
t_grep "$T_DIR/s4" "^RCPT kim@local\.test 452 4\.5\.3 " "4: accept, outside: a relayed domain after a forwarded one gets 452"
outside alice@sender.test lee@local.test,gus@example.com >"$T_DIR/s4b" 2>&1
t_grep "$T_DIR/s4b" "^RCPT gus@example\.com 452 4\.5\.3 " "4: accept, outside: a forwarded one after a relayed domain gets 452"
wait_until 20 got "$S" kim@local.test
wait_until 20 got "$S" lee@local.test
wait_until 20 got "$A" fay@example.com
wait_until 20 got "$A" gus@example.com
for r in kim@local.test lee@local.test; do
	got "$S" "$r"
	t_ok $? "4: $r delivered the ordinary way"
	t_nogrep "$MXLOG" "mxport/transport.*to=<$r>" "4: the transport never saw $r"
	t_nogrep "$PF/maillog" "to=<$r>, relay=mxport" "4: Postfix did not hand $r to mxport"
done
for r in fay@example.com gus@example.com; do
	got "$A" "$r"
	t_ok $? "4: $r reached the customer"
done

# 5. a trusted client (127.0.0.1: mynetworks and trusted_networks) mixes a
# forwarded recipient, postmaster and a relayed domain
send_mail alice@sender.test hal@example.com,postmaster,ivy@local.test >"$T_DIR/s5" 2>&1
t_grep "$T_DIR/s5" "^RCPT postmaster 452 4\.5\.3 " "5: trusted: postmaster after a forwarded one gets 452"
t_grep "$T_DIR/s5" "^RCPT ivy@local\.test 452 4\.5\.3 " "5: trusted: a relayed domain after a forwarded one gets 452"
t_eq "$(grep -c '^DATA 250 ' "$T_DIR/s5")" 2 "5: trusted: two transactions (postmaster and ivy share the second)"
wait_until 20 got "$A" hal@example.com
wait_until 20 got "$S" ivy@local.test
t_ok $? "5: trusted: ivy delivered the ordinary way"
t_nogrep "$MXLOG" "mxport/transport.*to=<ivy@local\.test>" "5: trusted: the transport never saw ivy"
t_grep "$MXLOG" "forwarded=1 \(<hal@example\.com>\).*separated=2.*trusted client" "5: trusted: the milter logs the trusted client"
send_mail alice@sender.test jan@local.test,joe@example.com >"$T_DIR/s5b" 2>&1
t_grep "$T_DIR/s5b" "^RCPT joe@example\.com 452 4\.5\.3 " "5: trusted: a forwarded one after a relayed domain gets 452"
wait_until 20 got "$A" joe@example.com
t_ok $? "5: trusted: ... and reaches the customer"

# 6. sendmail(1): no milter on this path; transport_maps routes each recipient
/usr/sbin/sendmail -C "$PF/etc" -f alice@sender.test kit@example.com max@local.test fwd <<'MSG'
From: alice@sender.test
Subject: submitted with sendmail(1)
X-Mxport: forged.example

Local submission.
MSG
wait_until 20 got "$A" kit@example.com
t_ok $? "6: sendmail(1): the forwarded recipient reaches the customer"
wait_until 20 got "$S" max@local.test
t_ok $? "6: sendmail(1): the other one is delivered the ordinary way"
t_nogrep "$MXLOG" "mxport/transport.*to=<max@local\.test>" "6: sendmail(1): the transport never saw it"
wait_until 20 got "$A" ops@example.com
t_ok $? "6: sendmail(1): an alias of this relay that points at a forwarded address reaches the customer"
t_nogrep "$(rcpt_in "$A" kit@example.com | sed 's/env/msg/')" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "6: sendmail(1): no tag in the customer's copy"
t_grep "$(rcpt_in "$S" max@local.test | sed 's/env/msg/')" "^X-Mxport: forged\.example" "6: the forged tag stayed in the local copy, and routed nothing"

# 7. Postfix's own DSN to a customer: a message from a forwarded domain
# that the far end refuses bounces back to the sender's customer server
outside ann@example.com nobody@refuse.example >"$T_DIR/s7" 2>&1
t_grep "$T_DIR/s7" "^DATA 250 " "7: message from a forwarded domain accepted"
wait_until 30 got "$A" ann@example.com
t_ok $? "7: the bounce reached the sender's customer server"
dsn_env=$(rcpt_in "$A" ann@example.com)
t_grep "$dsn_env" "^MAIL FROM:<>" "7: ... with the null sender"
t_grep "$(echo "$dsn_env" | sed 's/env/msg/')" "550 5\.1\.1 No such user here" "7: ... carrying the refusal"
t_grep "$MXLOG" "to=<ann@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "7: the transport delivered the DSN"

# 8. forged tags: to a local recipient the message goes the ordinary way
# (a forged tag routes nothing); to a forwarded one the customer's copy has none
outside alice@sender.test pat@local.test "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s8" 2>&1
wait_until 20 got "$S" pat@local.test
t_ok $? "8: forged tags, local recipient: delivered the ordinary way"
t_nogrep "$MXLOG" "mxport/transport.*to=<pat@local\.test>" "8: ... not by the transport"
t_nogrep "$PF/maillog" "to=<pat@local\.test>, relay=mxport" "8: ... not handed to mxport"
outside alice@sender.test quinn@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s8b" 2>&1
wait_until 20 got "$A" quinn@example.com
t_nogrep "$(rcpt_in "$A" quinn@example.com | sed 's/env/msg/')" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "8: forged tags, forwarded recipient: the customer's copy has none"

# 9. 12,000 forged tags: delivered (or refused with 5xx), never tempfailed
python3 -c '
import sys
out = sys.stdout
out.write("From: <alice@sender.test>\nTo: <many@example.com>\nSubject: 12000 forged tags\n")
for i in range(12000):
    out.write("X-Mxport: evil%d.example\n" % i)
out.write("\nbody\n")' >"$T_DIR/many.eml"
outside alice@sender.test many@example.com "$T_DIR/many.eml" >"$T_DIR/s9" 2>&1
t_grep "$T_DIR/s9" "^DATA [25][0-9][0-9] " "9: 12,000 forged tags: accepted or refused for good"
t_nogrep "$T_DIR/s9" "^DATA 4" "9: ... never tempfailed"
t_nogrep "$PF/maillog" "panic|too many reverse jump" "9: no cleanup panic"
if grep -q "^DATA 250 " "$T_DIR/s9"; then
	wait_until 60 got "$A" many@example.com
	t_ok $? "9: delivered to the customer"
	m=$(rcpt_in "$A" many@example.com | sed 's/env/msg/')
	t_nogrep "$m" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "9: the customer's copy has no tag"
	t_grep "$m" "^Subject: 12000 forged tags" "9: ... and the rest of the header"
fi
outside alice@sender.test rob@local.test "$T_DIR/many.eml" >"$T_DIR/s9b" 2>&1
t_grep "$T_DIR/s9b" "^DATA 250 " "9: 12,000 forged tags to a local recipient: accepted"
wait_until 60 got "$S" rob@local.test
t_ok $? "9: ... and delivered the ordinary way"
t_nogrep "$MXLOG" "mxport/transport.*to=<rob@local\.test>" "9: ... not by the transport"

# 10. a real MTA as the outside client: another Postfix, sending from the
# outside address, gets 452 for one of two recipients in one transaction,
# keeps it queued and sends it again on its own; nothing is lost
start_outside_mta "$PF_PORT" "$OUTSIDE" example.com local.test
/usr/sbin/sendmail -C "$OPF/etc" -f alice@sender.test tom@example.com una@local.test <<'MSG'
From: alice@sender.test
Subject: from another site's Postfix

Two recipients, one transaction.
MSG
wait_until 60 got "$A" tom@example.com
wait_until 60 got "$S" una@local.test
t_ok $? "10: outside Postfix: both recipients arrived"
t_grep "$OPF/maillog" "said: 452 4\.5\.3 " "10: outside Postfix: it got the 452 for one of them"
t_grep "$OPF/maillog" "to=<(tom@example\.com|una@local\.test)>.*status=deferred" "10: ... deferred it"
t_grep "$OPF/maillog" "to=<tom@example\.com>.*status=sent" "10: ... and sent the forwarded one"
t_grep "$OPF/maillog" "to=<una@local\.test>.*status=sent" "10: ... and the other one, each in a transaction of its own"
t_eq "$(grep -c '^RCPT' "$(rcpt_in "$A" tom@example.com)")" 1 "10: the customer's copy is for tom alone"
t_nogrep "$MXLOG" "mxport/transport.*to=<una@local\.test>" "10: the transport never saw una"
opf_empty() { [ "$(postqueue -c "$OPF/etc" -j 2>/dev/null | grep -c queue_id)" -eq 0 ]; }
wait_until 20 opf_empty
t_ok $? "10: the outside MTA's queue is empty"

# 11. milter (and so the socketmap) down: mail that enters without SMTP
# waits in the queue for a forwarded recipient; never relayed elsewhere
stop_milter
/usr/sbin/sendmail -C "$PF/etc" -f alice@sender.test sue@example.com </dev/null
wait_until 20 grep -q "to=<sue@example\.com>.*status=deferred" "$PF/maillog"
t_grep "$PF/maillog" "to=<sue@example\.com>.*status=deferred" "11: socketmap down: sendmail(1) mail for a customer is deferred"
t_nogrep "$PF/maillog" "to=<sue@example\.com>.*status=(sent|bounced)" "11: ... neither sent elsewhere nor bounced"
start_milter
# Postfix's resolver client can hold on to the failed answer for a while
# (here up to about 30 s): flush until it asks again.
flushed_to() {
	pf_flush
	sleep 1
	got "$A" sue@example.com
}
wait_until 120 flushed_to
t_ok $? "11: milter back, queue flushed: delivered to the customer"
wait_until 20 queue_empty
t_eq "$(pf_queue_count)" 0 "11: queue empty: nothing lost"

t_done
