#!/bin/sh
# test_verify - unknown users refused at RCPT (verify): the relay asks the
# customer's server (MAIL FROM:<>, RCPT TO) before it takes a recipient of
# a forwarded domain, through the milter and through the socketmap's verify
# table (the milter-less variant); answers are cached; a server that is
# down or says 4xx leaves the recipient accepted (verify_unreachable =
# accept) or 451 (tempfail); hostile servers and addresses change nothing.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

# The customer's server: users nobody* are unknown (550 with its own words),
# grey* are greylisted (450), huge@ gets a 70 KB line, multi@ a 550 of 150 lines.
python3 - >"$T_DIR/cust.json" <<'PYEOF'
import json
multi = ["550-5.1.1 multi line %d of the refusal" % i for i in range(149)] + ["550 5.1.1 multi last line"]
print(json.dumps({"rcpt_match": [
    ["nobody.*", "550 5.1.1 <nobody>: no mailbox by that name at the customer"],
    ["grey.*", "450 4.2.0 greylisted, come back later"],
    ["huge@example\\.com", "550 5.1.1 " + "x" * 70000],
    ["multi@example\\.com", multi],
    ["pct@example\\.com", "550 5.2.2 mailbox 100% full %s%n"]]}))
PYEOF
start_peer cust "$(cat "$T_DIR/cust.json")"
PC=$PEER_PORT
C="$PEER_DIR"
start_peer plain '{}'
PN=$PEER_PORT
N="$PEER_DIR"
start_peer greet '{"greeting": "554 5.3.2 not now"}'
PG=$PEER_PORT
start_peer stall '{"delay": {"rcpt": 30}}'
PST=$PEER_PORT
start_peer senders '{}'
PS=$PEER_PORT
PD=$(free_port) # nothing listens: the customer's server is down
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock
verify_timeout = 2s"
setup_mxport "example.com [127.0.0.1]:$PC verify=yes
down.example [127.0.0.1]:$PD verify=yes
greet.example [127.0.0.1]:$PG verify=yes
stall.example [127.0.0.1]:$PST verify=yes
plain.example [127.0.0.1]:$PN
off.example [127.0.0.1]:$PN verify=no"
start_milter
start_postfix "$PS"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1
start_lmtp
sleep 1

# mxport-setup --variant tmaps adds the verify table once verification is on
SETUP="$MXPORT_BUILDDIR/setup/mxport-setup"
"$SETUP" postfix -c "$PF/etc" --dry-run --mxport-conf "$T_DIR/etc/mxport.conf" >"$T_DIR/setup.on" 2>&1
t_grep "$T_DIR/setup.on" "smtpd_recipient_restrictions=check_recipient_access pipemap:\{hash:$PF/etc/mxport_routes, static:mxport_verify\}" \
	"setup: the default variant, a route with verify=yes: the routes table picks the verify class in smtpd_recipient_restrictions"
t_grep "$T_DIR/setup.on" "mxport_verify=check_recipient_access socketmap:unix:mxport/socketmap\.sock:verify" \
	"... the class asks the socketmap's verify table (forwarded domains only: local mail never waits for the milter)"
"$SETUP" postfix -c "$PF/etc" --variant tmaps --dry-run --mxport-conf "$T_DIR/etc/mxport.conf" >"$T_DIR/setup.on2" 2>&1
t_grep "$T_DIR/setup.on2" "smtpd_recipient_restrictions=check_recipient_access pipemap:\{hash:$PF/etc/mxport_routes, static:mxport_verify\}" "setup: tmaps: the same"
grep -v 'verify=yes' "$T_DIR/etc/routes" >"$T_DIR/routes.off"
sed "s|^routes_file *=.*|routes_file = $T_DIR/routes.off|" "$T_DIR/etc/mxport.conf" >"$T_DIR/mxport.off"
"$SETUP" postfix -c "$PF/etc" --variant tmaps --dry-run --mxport-conf "$T_DIR/mxport.off" >"$T_DIR/setup.off" 2>&1
t_nogrep "$T_DIR/setup.off" "verify" "setup: tmaps, verification off: no verify table"
echo "verify_recipients = yes" >>"$T_DIR/mxport.off"
"$SETUP" postfix -c "$PF/etc" --variant tmaps --dry-run --mxport-conf "$T_DIR/mxport.off" >"$T_DIR/setup.global" 2>&1
t_grep "$T_DIR/setup.global" "check_recipient_access socketmap:unix:mxport/socketmap\.sock:verify" "setup: tmaps, verify_recipients = yes: the verify table"
"$SETUP" postfix -c "$PF/etc" --variant milter --dry-run --mxport-conf "$T_DIR/etc/mxport.conf" >"$T_DIR/setup.milter" 2>&1
t_nogrep "$T_DIR/setup.milter" "check_recipient_access" "setup: the milter variant verifies in the milter: no verify table"

# callouts DIR [RCPT] - the peer's sessions that were verifications (of RCPT)
callouts() {
	grep -l '^MAIL FROM:<>$' "$1"/session.* 2>/dev/null |
		xargs -r grep -l "^RCPT TO:<${2:-}" 2>/dev/null | wc -l
}
# set_conf KEY VALUE - change one key of mxport.conf and reload the milter
set_conf() {
	sed -i "/^$1 *=/d" "$T_DIR/etc/mxport.conf"
	echo "$1 = $2" >>"$T_DIR/etc/mxport.conf"
}
# rcpt_code FILE ADDR - the code the relay answered to RCPT TO:<ADDR>
rcpt_code() {
	grep "^RCPT $2 " "$1" | head -1 | cut -d' ' -f3
}

# basics VARIANT TAG - known, unknown and cached recipients, and the server down
basics() {
	v=$1
	send_mail alice@sender.test "bob$2@example.com" >"$T_DIR/$v.known" 2>&1
	t_eq "$(rcpt_code "$T_DIR/$v.known" "bob$2@example.com")" 250 "$v: known user accepted at RCPT"
	wait_until 20 sh -c "grep -q 'to=<bob$2@example.com>.*status=sent' '$PF/maillog'"
	t_grep "$PF/maillog" "to=<bob$2@example\\.com>.*status=sent" "$v: known user delivered"
	t_eq "$(callouts "$C" "bob$2@")" 1 "$v: the customer's server was asked once"

	send_mail alice@sender.test "nobody$2@example.com" >"$T_DIR/$v.unknown" 2>&1
	t_grep "$T_DIR/$v.unknown" "^RCPT nobody$2@example\\.com 550 5\\.1\\.1 .*no mailbox by that name at the customer" \
		"$v: unknown user refused at RCPT with the customer's text"
	t_grep "$MXLOG" "verify <nobody$2@example\\.com>: relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PC, delay=[0-9.]+, status=rejected" \
		"$v: one log line for the callout"

	before=$(callouts "$C")
	send_mail alice@sender.test "bob$2@example.com,nobody$2@example.com" >"$T_DIR/$v.again" 2>&1
	t_eq "$(rcpt_code "$T_DIR/$v.again" "bob$2@example.com")" 250 "$v: known user accepted again"
	t_grep "$T_DIR/$v.again" "^RCPT nobody$2@example\\.com 550 5\\.1\\.1 .*no mailbox by that name" \
		"$v: unknown user refused again, with the same text"
	wait_until 20 sh -c "[ \$(grep -c 'to=<bob$2@example.com>.*status=sent' '$PF/maillog') -ge 2 ]"
	t_eq "$(callouts "$C" "bob$2@")" 1 "$v: cache hit: bob not asked again"
	t_eq "$(callouts "$C" "nobody$2@")" 1 "$v: cache hit: nobody not asked again"
	t_eq "$(callouts "$C")" "$before" "$v: no new callout at all"
}

# --- the milter (contrib/postfix/milter/main.cf) ---
basics milter 1

send_mail alice@sender.test "u1@down.example,u2@down.example" >"$T_DIR/down" 2>&1
t_eq "$(rcpt_code "$T_DIR/down" u1@down.example)" 250 "milter: server down: accepted (verify_unreachable = accept)"
t_eq "$(rcpt_code "$T_DIR/down" u2@down.example)" 250 "milter: server down: second recipient accepted"
wait_until 20 sh -c "grep -q 'to=<u1@down.example>.*status=deferred' '$PF/maillog'"
t_grep "$PF/maillog" "to=<u1@down\\.example>.*status=deferred" "milter: server down: the mail waits in the queue"
t_eq "$(grep -c 'verify <u[12]@down\.example>' "$MXLOG")" 1 "milter: server down: one callout for two recipients (remembered)"

send_mail alice@sender.test grey1@example.com >"$T_DIR/grey" 2>&1
t_eq "$(rcpt_code "$T_DIR/grey" grey1@example.com)" 250 "milter: a 450 from the customer: accepted"
send_mail alice@sender.test grey1@example.com >"$T_DIR/grey2" 2>&1
t_eq "$(callouts "$C" grey1@)" 2 "milter: a 450 is not cached per recipient"

send_mail alice@sender.test carl@plain.example >"$T_DIR/plain" 2>&1
t_eq "$(rcpt_code "$T_DIR/plain" carl@plain.example)" 250 "milter: route without verify=: accepted"
wait_until 20 have_msgs "$N" 1
t_eq "$(callouts "$N")" 0 "milter: route without verify= and verify_recipients = no: no callout"

# hostile servers and addresses
send_mail alice@sender.test huge@example.com >"$T_DIR/huge" 2>&1
t_grep "$T_DIR/huge" "^RCPT huge@example\\.com 550 5\\.1\\.1 x+$" "milter: a 70 KB refusal: 550 with its text"
t_ok "$([ "$(grep '^RCPT huge' "$T_DIR/huge" | wc -c)" -lt 600 ]; echo $?)" "milter: ... cut short"
send_mail alice@sender.test multi@example.com >"$T_DIR/multi" 2>&1
t_grep "$T_DIR/multi" "^RCPT multi@example\\.com 550 5\\.1\\.1 multi line 0 of the refusal multi line 1" \
	"milter: a 550 of 150 lines: joined on one line"
t_ok "$([ "$(grep '^RCPT multi' "$T_DIR/multi" | wc -c)" -lt 600 ]; echo $?)" "milter: ... cut short"
send_mail alice@sender.test pct@example.com >"$T_DIR/pct" 2>&1
t_grep "$T_DIR/pct" "^RCPT pct@example\\.com 550 5\\.2\\.2 mailbox 100\\? full \\?s\\?n$" "milter: '%' in a refusal is made harmless"
send_mail alice@sender.test x@greet.example >"$T_DIR/greet" 2>&1
t_eq "$(rcpt_code "$T_DIR/greet" x@greet.example)" 250 "milter: a 554 greeting says nothing of the user: accepted"
t0=$(date +%s)
send_mail alice@sender.test x@stall.example >"$T_DIR/stall" 2>&1
t1=$(date +%s)
t_eq "$(rcpt_code "$T_DIR/stall" x@stall.example)" 250 "milter: a server that stalls: accepted"
t_ok "$([ $((t1 - t0)) -le 8 ]; echo $?)" "milter: ... after verify_timeout, not the server's stall ($((t1 - t0)) s)"
long="$(python3 -c 'print("a" * 2000)')@example.com"
send_mail alice@sender.test "$long" >"$T_DIR/long" 2>&1
t_eq "$(rcpt_code "$T_DIR/long" "$long")" 250 "milter: a 2,000-character recipient: asked and accepted"
send_mail alice@sender.test "$long" >"$T_DIR/long2" 2>&1
t_eq "$(callouts "$C" aaaaaaaaaa)" 2 "milter: ... too long to keep: asked each time"
kill -0 "$MILTER_PID"
t_ok $? "milter: still running after the hostile cases"

# verify_unreachable = tempfail; verify_recipients = yes for routes without verify=
set_conf verify_unreachable tempfail
set_conf verify_recipients yes
hup_milter
send_mail alice@sender.test u3@down.example >"$T_DIR/down.t" 2>&1
t_grep "$T_DIR/down.t" "^RCPT u3@down\\.example 451 4\\.4\\.1 " "milter: server down, verify_unreachable = tempfail: 451"
send_mail alice@sender.test grey2@example.com >"$T_DIR/grey.t" 2>&1
t_grep "$T_DIR/grey.t" "^RCPT grey2@example\\.com 451 4\\.4\\.1 " "milter: a 450 from the customer, tempfail: 451"
send_mail alice@sender.test dave@plain.example >"$T_DIR/global" 2>&1
t_eq "$(callouts "$N" dave@)" 1 "milter: verify_recipients = yes: a route without verify= is verified"
send_mail alice@sender.test erin@off.example >"$T_DIR/off" 2>&1
t_eq "$(callouts "$N" erin@)" 0 "milter: verify=no wins over verify_recipients = yes"

# --- the socketmap's verify table, no milter: the default path (contrib/postfix/main.cf) ---
sed -i '/^smtpd_milters/d; /^milter_/d; /^relay_domains/d; /^transport_maps/d; /^smtpd_relay_restrictions/,/reject_unauth_destination/d; /^mxport_/d' "$PF/etc/main.cf"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed 's/^#smtpd_recipient_restrictions/smtpd_recipient_restrictions/' >>"$PF/etc/main.cf"
postconf -c "$PF/etc" -e "transport_maps=inline:{ { sender.test = smtp:[127.0.0.1]:$PS } }, socketmap:unix:$T_DIR/run/socketmap.sock:transport" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1
t_grep "$PF/etc/main.cf" "^smtpd_recipient_restrictions *=.*check_recipient_access socketmap:unix:$T_DIR/run/socketmap\\.sock:verify" \
	"tmaps: contrib's verify line in main.cf"
send_mail alice@sender.test u4@down.example >"$T_DIR/tdown.t" 2>&1
t_grep "$T_DIR/tdown.t" "^RCPT u4@down\\.example 451 4\\.4\\.1 " "tmaps: server down, tempfail: 451"
set_conf verify_unreachable accept
hup_milter
basics tmaps 2
send_mail alice@sender.test u5@down.example >"$T_DIR/tdown" 2>&1
t_eq "$(rcpt_code "$T_DIR/tdown" u5@down.example)" 250 "tmaps: server down, accept: accepted"
send_mail alice@sender.test huge@example.com >"$T_DIR/thuge" 2>&1
t_grep "$T_DIR/thuge" "^RCPT huge@example\\.com 550 5\\.1\\.1 .*x+$" "tmaps: a 70 KB refusal: 550 with its text"
t_ok "$([ "$(grep '^RCPT huge' "$T_DIR/thuge" | wc -c)" -lt 700 ]; echo $?)" "tmaps: ... cut short"
send_mail alice@sender.test "$long" >"$T_DIR/tlong" 2>&1
t_eq "$(rcpt_code "$T_DIR/tlong" "$long")" 250 "tmaps: a 2,000-character recipient: accepted"
send_mail alice@sender.test x@unknown.test >"$T_DIR/tunk" 2>&1
t_grep "$T_DIR/tunk" "^RCPT x@unknown\\.test 550 " "tmaps: unknown domain still refused by the relay check"
t_nogrep "$PF/maillog" "warning: .*socketmap" "tmaps: no socketmap trouble in Postfix's log"
kill -0 "$MILTER_PID"
t_ok $? "tmaps: mxport-milter still running"

t_done
