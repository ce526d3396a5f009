#!/bin/sh
# test_exim - Exim as the relay, configured from contrib/exim/exim.conf as
# it is (only its paths and host name made this test's): a private Exim
# unpacked from Debian's package, mxport-milter for the socketmap that
# Exim's ${readsocket} asks, mxport-transport -L behind Exim's lmtp
# transport, and customers played by smtppeer.py. Mail comes from
# 127.0.0.2, outside relay_from_hosts (127.0.0.1 is trusted).
#   forwarded domain -> accepted at RCPT, delivered once, body intact;
#   unknown domain -> 550 (relay not permitted); DNS trouble (SERVFAIL) and
#   the socketmap down -> 451, deferred, not refused; customer down ->
#   deferred, listed by exim -bp, delivered by exim -qff once it is back;
#   customer's 550 -> a bounce with the customer's text; exim -R and ETRN
#   deliver one domain; one message with sent, bounced and deferred
#   recipients gets each its own result; verify=yes refuses the customer's
#   unknown user at RCPT with its words; X-Mxport-Client gives mxport's log
#   Exim's message id and the customer XFORWARD, and a forged copy counts
#   for nothing; mxport-queue lists and flushes Exim's queue; an outage
#   notice names exim -R; an SRV-only domain is accepted and delivered, an
#   SRV route into 169.254/16 deferred by the destination guard; Exim's
#   paniclog stays empty.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/exim.sh"
need python3 setpriv nsd drill

# exim.conf and the Debian snippets carry the same mxport lines (macros,
# routers, transport, ETRN ACL); test_exim_setup runs the snippets.
python3 - "$MXPORT_SRCDIR/contrib/exim" >"$T_DIR/sync" 2>&1 <<'PY'
import re, sys
d = sys.argv[1]
def text(path):
    return open(path).read()
def block(t, start, stop):
    """lines from the line 'start' up to the first line matching stop (or a
    blank line), without comments, debug_print, user = and .ifdef lines"""
    lines = t.split("\n")
    i = lines.index(start)
    out = []
    for l in lines[i:]:
        if l.strip() == "" and out:
            break
        if re.match(r"\s*(#|debug_print|user =|\.)", l):
            continue
        out.append(l.rstrip())
        if stop and re.match(stop, l):
            break
    return out
conf = text(d + "/exim.conf")
macros = [l for l in conf.split("\n") if l.startswith("MXPORT_")]
want = [l for l in text(d + "/conf.d/main/00_mxport_macros").split("\n") if l.startswith("MXPORT_")]
bad = []
if macros != want:
    bad.append("macros: %r != %r" % (macros, want))
router = text(d + "/conf.d/router/160_mxport")
for name, stop in (("mxport_defer:", None), ("mxport:", r"\s*no_more")):
    if block(conf, name, stop) != block(router, name, stop):
        bad.append("router %s differs" % name)
if block(conf, "mxport_lmtp:", None) != block(text(d + "/conf.d/transport/30_mxport_lmtp"), "mxport_lmtp:", None):
    bad.append("transport mxport_lmtp differs")
acl = text(d + "/conf.d/acl/35_mxport_check_rcpt")
if block(conf, "acl_check_etrn:", r"\s*message")[1:] != block(acl, "acl_mxport_check_etrn:", r"\s*message")[1:]:
    bad.append("the ETRN ACL differs")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
t_ok $? "contrib/exim/exim.conf and conf.d/ carry the same mxport lines"
[ -s "$T_DIR/sync" ] && sed 's/^/#   /' "$T_DIR/sync"

exim_fetch
start_peer custA '{"ehlo": ["PIPELINING", "8BITMIME", "XFORWARD NAME ADDR PROTO HELO SOURCE"]}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custR '{"rcpt": "550 5.1.1 No such user here"}'
PR=$PEER_PORT
start_peer custV '{"rcpt_match": [["nobody@verify\\.example", "550 5.1.1 <nobody@verify.example>: Recipient address rejected: User unknown"]]}'
PV=$PEER_PORT
DOWN=$(free_port)
DOWN2=$(free_port)
EPORT=$(free_port)
setup_mxport_exim "example.com [127.0.0.1]:$PA
refuse.example [127.0.0.1]:$PR
down.example [127.0.0.1]:$DOWN
verify.example [127.0.0.1]:$PV verify=yes
notice.example [127.0.0.1]:$DOWN2 notify=owner@example.com" "notify_after = 2s
state_directory = $T_DIR/state
sendmail_path = $T_DIR/bin/sendmail-ex"
mkdir -p "$T_DIR/state"
chown mxport "$T_DIR/state"
start_milter_exim
start_lmtp_exim
exim_contrib "$MXPORT_SRCDIR/contrib/exim/exim.conf" >"$T_DIR/exim.conf"
start_exim_relay "$EPORT" "$T_DIR/exim.conf"
t_grep "$RELAY/bV.out" "^Exim version 4\." "exim -bV takes contrib/exim/exim.conf"
# The notices go through Exim: sendmail(1) as SMTP to it from 127.0.0.1
# (relay_from_hosts), as Exim's own sendmail would queue them.
sendmail_standin "$T_DIR/bin/sendmail-ex" "$EPORT"

# send FROM RCPT [FILE] - one message from 127.0.0.2; replies in $T_DIR/out
send() {
	SENDMSG_SOURCE=127.0.0.2 python3 "$MXPORT_SRCDIR/tests/lib/sendmsg.py" 127.0.0.1 "$EPORT" "$@" >"$T_DIR/out" 2>&1
}
mainlog() {
	cat "$RELAY/log/mainlog" 2>/dev/null
}
in_mainlog() {
	mainlog | grep -Eq -- "$1"
}
queue_count() {
	$EXIM -bpc 2>/dev/null
}

# --- 1. forwarded: accepted at RCPT, delivered once, the body intact -----------
python3 - "$T_DIR/msg" "$T_DIR/body.want" <<'PY'
import sys
body = (b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n"
        b".a line with a leading dot\r\n"
        b".\r\n"
        b"\r\n\r\n"
        b"tab\there, blanks at the end   \r\n"
        + b"y" * 990 + b"\r\n"
        b"last line\r\n")
head = (b"From: Alice <alice@sender.test>\r\n"
        b"To: bob@example.com\r\n"
        b"Subject: through exim\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n")
open(sys.argv[1], "wb").write(head + body)
open(sys.argv[2], "wb").write(body)
PY
send alice@sender.test bob@example.com "$T_DIR/msg"
t_ok $? "forwarded domain: the message is accepted"
t_grep "$T_DIR/out" "^RCPT bob@example\.com 250 " "forwarded domain: 250 at RCPT"
wait_until 30 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "the customer got it, once"
wait_until 10 in_mainlog "=> bob <bob@example\.com> R=mxport T=mxport_lmtp C=\"250 2\.0\.0 "
t_ok $? "Exim: delivered by the mxport router and the mxport_lmtp transport"
t_grep "$MXLOG" "to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "transport: logged as sent to the customer's port"
got=$(ls "$A"/msg.* | head -1)
python3 - "$got" "$T_DIR/body.want" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
body = data.split(b"\r\n\r\n", 1)[1]
# undo the SMTP dot-stuffing
lines = body.split(b"\r\n")
body = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)
sys.exit(0 if body == open(sys.argv[2], "rb").read() else 1)
PY
t_ok $? "the body arrived byte for byte (8-bit, leading dots, long line, blanks)"
t_grep "$got" "^Subject: through exim" "headers intact"
t_grep "$got" "^Received: from \[127\.0\.0\.2\] \(helo=client\.test\)" "Exim's Received line names the sender's host"
t_grep "$A/env.1" "^RCPT TO:<bob@example\.com>" "the envelope recipient kept"
t_eq "$(queue_count)" 0 "Exim's queue is empty"
# Exim's message id and the original client, through X-Mxport-Client
eid=$(mainlog | sed -n 's/^.* \([0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6\}-[0-9A-Za-z]\{2,4\}\) => bob <bob@example\.com>.*/\1/p' | head -1)
t_grep "$MXLOG" "^.*: $eid: to=<bob@example\.com>, relay=127\.0\.0\.1" "mxport's log line carries Exim's message id ($eid)"
t_grep "$A/session.1" "^XFORWARD .*ADDR=127\.0\.0\.2" "the customer gets XFORWARD with the original client's address"
t_grep "$A/session.1" "^XFORWARD .*HELO=client\.test" "... and its HELO name"
t_grep "$A/session.1" "^XFORWARD .*PROTO=ESMTP" "... and its protocol"
t_nogrep "$got" "^X-Mxport-Client:" "the field is not in the customer's copy"
# A sender's forged field counts for nothing and is removed too.
printf 'From: <alice@sender.test>\r\nX-Mxport-Client: QUEUE=forged ADDR=192.0.2.66 HELO=forged.example\r\nSubject: forged\r\n\r\nforged field\r\n' >"$T_DIR/forged"
send alice@sender.test fbob@example.com "$T_DIR/forged"
wait_until 30 have_msgs "$A" 2
fgot=$(grep -l "^Subject: forged" "$A"/msg.* | head -1)
t_nogrep "$fgot" "^X-Mxport-Client:" "forged X-Mxport-Client: removed"
fsess="$A/session.$(echo "$fgot" | sed 's/.*msg\.\([0-9]*\).*/\1/')"
t_grep "$fsess" "^XFORWARD .*ADDR=127\.0\.0\.2" "forged X-Mxport-Client: the true client's address is sent"
t_nogrep "$fsess" "192\.0\.2\.66|forged\.example" "forged X-Mxport-Client: nothing of it is sent"
t_nogrep "$MXLOG" "forged: to=" "forged X-Mxport-Client: its queue id is not used"

# --- 2. unknown domain: 550, for good ---------------------------------------------
send alice@sender.test bob@unknown.example
t_grep "$T_DIR/out" "^RCPT bob@unknown\.example 550 relay not permitted" "unknown domain: 550 relay not permitted"

# --- 3. DNS trouble: the socketmap answers TEMP, Exim 451 -------------------------
start_dnsstub servfail
sed -i "s/^dns_routes = .*/dns_routes = yes/" "$T_DIR/etc/mxport.conf"
echo "dns_servers = 127.0.0.1:$STUB_PORT" >>"$T_DIR/etc/mxport.conf"
hup_milter
send alice@sender.test bob@srvonly.example
t_grep "$T_DIR/out" "^RCPT bob@srvonly\.example 451 4\.3\.0 " "DNS SERVFAIL: 451 4.3.0 at RCPT, not 550"
send alice@sender.test bob@example.com
t_grep "$T_DIR/out" "^RCPT bob@example\.com 250 " "DNS SERVFAIL: a routes-file domain still passes"
wait_until 30 have_msgs "$A" 3
sed -i "s/^dns_routes = .*/dns_routes = no/; /^dns_servers/d" "$T_DIR/etc/mxport.conf"
hup_milter

# --- 4. the socketmap down: 451, nothing refused ----------------------------------
stop_milter
send alice@sender.test bob@example.com
t_grep "$T_DIR/out" "^RCPT bob@example\.com 451 4\.3\.0 " "socketmap down: 451 4.3.0 for a forwarded domain"
send alice@sender.test bob@unknown.example
t_grep "$T_DIR/out" "^RCPT bob@unknown\.example 451 " "socketmap down: 451 for any other domain too (never a false 550)"
t_grep "$RELAY/log/rejectlog" "mxport: 27:TEMP socketmap unreachable," "Exim's log says why"
start_milter_exim

# --- 5. customer down: deferred, listed, delivered by exim -qff -------------------
send alice@sender.test carol@down.example
t_grep "$T_DIR/out" "^RCPT carol@down\.example 250 " "customer down: accepted at RCPT"
wait_until 30 in_mainlog "== carol@down\.example R=mxport T=mxport_lmtp defer"
t_ok $? "customer down: Exim deferred it"
t_grep "$RELAY/log/mainlog" "== carol@down\.example .*defer .*4\.4\.1" "... with the transport's 4.4.1"
$EXIM -bp >"$T_DIR/bp" 2>&1
t_grep "$T_DIR/bp" "carol@down\.example" "exim -bp lists it"
start_peer custD "{\"port\": $DOWN}"
D="$PEER_DIR"
$EXIM -qff >"$T_DIR/qff" 2>&1
wait_until 30 have_msgs "$D" 1
t_eq "$(count_msgs "$D")" 1 "exim -qff: delivered once the customer is back"
wait_until 10 in_mainlog "=> carol <carol@down\.example> R=mxport T=mxport_lmtp"
t_ok $? "Exim logged the delivery"

# --- 5b. mxport-queue, exim -R and ETRN deliver one domain's waiting mail ---------
stop_peer custD
send alice@sender.test dave@down.example
wait_until 30 in_mainlog "== dave@down\.example R=mxport T=mxport_lmtp defer"
t_ok $? "customer down again: deferred"
# mxport-queue on Exim: what waits per forwarded domain, and its flush
MXPORT_ROUTE="$T_DIR/bin/mxport-route" "$MXPORT_BUILDDIR/mxport-queue" -c "$T_DIR/etc/mxport.conf" --mta exim \
	--exim "$EXIM_ROOT/usr/sbin/exim4" -C "$RELAY/exim.conf" --json >"$T_DIR/q.json" 2>"$T_DIR/q.err"
t_ok $? "mxport-queue --mta exim --json"
python3 - "$T_DIR/q.json" >"$T_DIR/q.check" 2>&1 <<'PY'
import json, sys, time
j = json.load(open(sys.argv[1]))
d = {r["domain"]: r for r in j["domains"]}
r = d.get("down.example")
assert j["mta"] == "exim", j
assert r and r["messages"] == 1 and r["recipients"] == 1, j
assert "4.4.1" in r["last_error"], r
assert 0 <= r["oldest_age"] < 600, r
assert r["size"] > 0, r
assert set(d) == {"down.example"}, j
PY
t_ok $? "mxport-queue: down.example, one message, its 4.4.1 and its age"
[ -s "$T_DIR/q.check" ] && sed 's/^/#   /' "$T_DIR/q.check" "$T_DIR/q.json" "$T_DIR/q.err"
start_peer custD2 "{\"port\": $DOWN}"
D2="$PEER_DIR"
MXPORT_ROUTE="$T_DIR/bin/mxport-route" "$MXPORT_BUILDDIR/mxport-queue" -c "$T_DIR/etc/mxport.conf" --mta exim \
	--exim "$EXIM_ROOT/usr/sbin/exim4" -C "$RELAY/exim.conf" --flush down.example >"$T_DIR/R" 2>&1
t_grep "$T_DIR/R" "^down\.example: flush requested \(exim -R @down\.example\)" "mxport-queue --flush down.example runs exim -R"
wait_until 30 have_msgs "$D2" 1
t_eq "$(count_msgs "$D2")" 1 "exim -R @down.example: delivered"
stop_peer custD2
send alice@sender.test erin@down.example
wait_until 30 in_mainlog "== erin@down\.example R=mxport T=mxport_lmtp defer"
t_ok $? "customer down a third time: deferred"
start_peer custD3 "{\"port\": $DOWN}"
D3="$PEER_DIR"
python3 - "$EPORT" >"$T_DIR/etrn" 2>&1 <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test", source_address=("127.0.0.2", 0))
s.ehlo()
for dom in ("unknown.example", "down.example"):
    print("ETRN %s %d %s" % ((dom,) + s.docmd("ETRN", dom)))
s.quit()
PY
t_grep "$T_DIR/etrn" "^ETRN unknown\.example 458 " "ETRN for a domain not forwarded: 458"
t_grep "$T_DIR/etrn" "^ETRN down\.example 250 " "ETRN for a forwarded domain: 250"
wait_until 30 have_msgs "$D3" 1
t_eq "$(count_msgs "$D3")" 1 "ETRN down.example: delivered"

# --- 6. customer's 550: a bounce with the customer's text -------------------------
send alice@sender.test nobody@refuse.example
t_grep "$T_DIR/out" "^RCPT nobody@refuse\.example 250 " "refused later: accepted at RCPT"
wait_until 30 in_mainlog "\*\* nobody@refuse\.example R=mxport T=mxport_lmtp"
t_ok $? "customer's 550: Exim failed the address"
t_grep "$RELAY/log/mainlog" "\*\* nobody@refuse\.example .*550 5\.1\.1 .*No such user here" "... with the customer's words"
wait_until 10 in_mainlog "<= <> R="
bounce=$(mainlog | sed -n 's/^.* \([0-9A-Za-z-]*\) <= <> R=.*/\1/p' | head -1)
$EXIM -Mvb "$bounce" >"$T_DIR/bounce" 2>&1
t_grep "$T_DIR/bounce" "nobody@refuse\.example" "the bounce names the recipient"
t_grep "$T_DIR/bounce" "No such user here" "the bounce carries the customer's text"

# --- 7. one message: sent, bounced and deferred recipients ----------------------
stop_peer custD3
send alice@sender.test "bob2@example.com,x@refuse.example,y@down.example"
t_grep "$T_DIR/out" "^DATA 250 " "three domains in one message: accepted"
wait_until 30 in_mainlog "== y@down\.example R=mxport T=mxport_lmtp defer"
t_ok $? "mixed: the recipient whose server is down waits"
wait_until 30 in_mainlog "=> bob2 <bob2@example\.com> R=mxport T=mxport_lmtp"
t_ok $? "mixed: the forwarded one is sent"
wait_until 30 in_mainlog "\*\* x@refuse\.example R=mxport T=mxport_lmtp.*No such user here"
t_ok $? "mixed: the refused one bounces with the customer's words"
wait_until 30 have_msgs "$A" 4
t_eq "$(count_msgs "$A")" 4 "mixed: the customer got its copy, once"
$EXIM -bp >"$T_DIR/bp2" 2>&1
t_grep "$T_DIR/bp2" "^ +y@down\.example$" "mixed: exim -bp lists only the waiting recipient as undelivered"
t_nogrep "$T_DIR/bp2" "^ +(bob2@example\.com|x@refuse\.example)$" "mixed: the others are done"

# --- 8. verify=yes: the customer's unknown user refused at RCPT, in its words -------
send alice@sender.test "nobody@verify.example,someone@verify.example,bob3@example.com"
t_grep "$T_DIR/out" "^RCPT nobody@verify\.example 550 5\.1\.1 <nobody@verify\.example>: Recipient address rejected: User unknown" "verify=yes: an unknown user gets 550 with the customer's words"
t_grep "$T_DIR/out" "^RCPT someone@verify\.example 250 " "verify=yes: a known user passes"
t_grep "$T_DIR/out" "^RCPT bob3@example\.com 250 " "a recipient after a refused one is judged on its own"
wait_until 30 in_mainlog "=> someone <someone@verify\.example> R=mxport T=mxport_lmtp"
t_ok $? "verify=yes: the known user's copy is delivered"

# --- 9. an outage notice to the customer's contact names Exim's flush command --------
send alice@sender.test carol@notice.example
wait_until 30 in_mainlog "== carol@notice\.example R=mxport T=mxport_lmtp defer"
t_ok $? "notice.example down: deferred"
# another attempt once notify_after (2 s) has passed opens the notice
notice_came() {
	$EXIM -Rf @notice.example >/dev/null 2>&1
	grep -l "^Subject: Mail for notice\.example is waiting" "$A"/msg.* >/dev/null 2>&1
}
wait_until 60 notice_came
t_ok $? "the contact (owner@example.com, a forwarded address) got the notice, through Exim"
notice=$(grep -l "^Subject: Mail for notice\.example is waiting" "$A"/msg.* | head -1)
t_grep "$notice" "^    exim -R notice\.example[[:cntrl:]]?$" "the notice names exim -R (mta = exim)"
t_grep "$notice" "^Oldest: +queue id [0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}," "... and the oldest message by Exim's message id"
t_nogrep "$notice" "postqueue" "... and not Postfix's postqueue"

# --- 10. SRV-only routes: accepted at RCPT; a route into 169.254/16 deferred ----------
cat >"$T_DIR/srv.zone" <<ZEOF
\$ORIGIN test.
\$TTL 60
@		SOA	ns.test. hostmaster.test. 1 3600 600 86400 10
@		NS	ns.test.
ns		A	127.0.0.1
peer		A	127.0.0.1
meta		A	169.254.169.254
_smtp._tcp.srvonly	SRV	10 0 $PA peer.test.
_smtp._tcp.metadata	SRV	10 0 25 meta.test.
ZEOF
start_nsd "$T_DIR/srv.zone" test.
sed -i "s/^dns_routes = .*/dns_routes = yes/" "$T_DIR/etc/mxport.conf"
echo "dns_servers = 127.0.0.1:$NSD_PORT" >>"$T_DIR/etc/mxport.conf"
hup_milter
n=$(count_msgs "$A")
send alice@sender.test srv@srvonly.test
t_grep "$T_DIR/out" "^RCPT srv@srvonly\.test 250 " "an SRV-only domain: 250 at RCPT"
wait_until 30 have_msgs "$A" $((n + 1))
t_ok $? "an SRV-only domain: delivered to the SRV record's port"
send alice@sender.test x@metadata.test
t_grep "$T_DIR/out" "^RCPT x@metadata\.test 250 " "an SRV route to 169.254.169.254: accepted at RCPT (forwarded)"
wait_until 30 in_mainlog "== x@metadata\.test R=mxport T=mxport_lmtp defer .*4\.4\.4 .*route refused"
t_ok $? "... and deferred by the destination guard (4.4.4), never sent there"
t_nogrep "$RELAY/log/mainlog" "=> x <x@metadata\.test>" "... nothing delivered to it"
send alice@sender.test y@unknown.test
t_grep "$T_DIR/out" "^RCPT y@unknown\.test 550 relay not permitted" "no SRV record (NXDOMAIN): 550"

# --- 11. the LMTP daemon down: deferred, nothing lost; delivered once it is back ----
kill "$LMTP_PID"
wait "$LMTP_PID" 2>/dev/null
wait_until 30 sh -c "! test -S '$T_DIR/run/lmtp.sock'"
rm -f "$T_DIR/run/lmtp.sock"
n=$(count_msgs "$A")
send alice@sender.test lmtpdown@example.com
t_grep "$T_DIR/out" "^RCPT lmtpdown@example\.com 250 " "LMTP daemon down: still accepted at RCPT (the socketmap answers)"
wait_until 30 in_mainlog "== lmtpdown@example\.com R=mxport T=mxport_lmtp defer"
t_ok $? "LMTP daemon down: Exim defers, the message stays queued"
start_lmtp_exim
$EXIM -R @example.com >/dev/null 2>&1
wait_until 30 have_msgs "$A" $((n + 1))
t_ok $? "LMTP daemon back: exim -R delivers it"

# --- the paniclog ---------------------------------------------------------------
# (-C costs Exim its root privilege, which it notes there: the test's doing)
grep -v "exim user lost privilege for using -C option" "$RELAY/log/paniclog" >"$T_DIR/panic" 2>/dev/null
if [ -s "$T_DIR/panic" ]; then r=1; sed 's/^/#   /' "$T_DIR/panic"; else r=0; fi
t_ok $r "Exim's paniclog is empty"
t_done
