#!/bin/sh
# test_sendmail_verify - unknown users refused at RCPT (verify) on a real
# Sendmail 8.17 through mxport-milter: the customer's server is asked
# before a recipient is accepted, its 5xx refused with its words, answers
# cached; a server that is down: accepted and queued, or 451 (tempfail).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/sendmail.sh"
need python3

start_peer cust '{"rcpt_match": [["nobody.*", "550 5.1.1 <nobody>: no mailbox by that name at the customer"], ["pct@example\\.com", "550 5.2.2 mailbox 100% full %s%n"], ["huge@example\\.com", "550 5.1.1 '"$(python3 -c 'print("x" * 70000)')"'"]]}'
PC=$PEER_PORT
C="$PEER_DIR"
start_peer senders '{"host": "127.0.0.2"}'
PS=$PEER_PORT
DOWN=$(free_port)
SM_PORT=$(free_port)
PF_PORT=$SM_PORT # setup_mxport's loop guard: this relay's own port
MXPORT_EXTRA_CONF="verify_timeout = 2s"
setup_mxport "example.com [127.0.0.1]:$PC verify=yes
down.example [127.0.0.1]:$DOWN verify=yes"
start_milter
start_sendmail "$PS"

callouts() {
	grep -l '^MAIL FROM:<>$' "$C"/session.* 2>/dev/null |
		xargs -r grep -l "^RCPT TO:<$1" 2>/dev/null | wc -l
}
rcpt_code() {
	grep "^RCPT $2 " "$1" | head -1 | cut -d' ' -f3
}

send_sm alice@sender.test bob@example.com >"$T_DIR/s1" 2>&1
t_eq "$(rcpt_code "$T_DIR/s1" bob@example.com)" 250 "known user accepted at RCPT"
wait_until 30 have_msgs "$C" 1
t_eq "$(count_msgs "$C")" 1 "known user delivered"
send_sm alice@sender.test nobody@example.com >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT nobody@example\\.com 550 5\\.1\\.1 .*no mailbox by that name at the customer" \
	"unknown user refused at RCPT with the customer's text"
send_sm alice@sender.test bob@example.com,nobody@example.com >"$T_DIR/s3" 2>&1
t_eq "$(rcpt_code "$T_DIR/s3" bob@example.com)" 250 "known user accepted again"
t_grep "$T_DIR/s3" "^RCPT nobody@example\\.com 550 5\\.1\\.1 .*no mailbox by that name" "unknown user refused again"
t_eq "$(callouts bob@)" 1 "cache hit: bob not asked again"
t_eq "$(callouts nobody@)" 1 "cache hit: nobody not asked again"
send_sm alice@sender.test huge@example.com >"$T_DIR/s4" 2>&1
t_grep "$T_DIR/s4" "^RCPT huge@example\\.com 550 5\\.1\\.1 .*x+$" "a 70 KB refusal: 550 with its text"
t_ok "$([ "$(grep '^RCPT huge' "$T_DIR/s4" | wc -c)" -lt 600 ]; echo $?)" "... cut short"

send_sm alice@sender.test pct@example.com >"$T_DIR/s4b" 2>&1
t_grep "$T_DIR/s4b" "^RCPT pct@example\\.com 550 5\\.2\\.2 .*mailbox 100\\? full \\?s\\?n$" "'%' in a refusal is made harmless"

send_sm alice@sender.test erin@down.example >"$T_DIR/s5" 2>&1
t_eq "$(rcpt_code "$T_DIR/s5" erin@down.example)" 250 "server down: accepted (verify_unreachable = accept)"
wait_until 20 grep -q "to=<erin@down\\.example>.*status=deferred" "$MXLOG"
sleep 1
t_eq "$(sm_queue_count)" 1 "server down: the message waits in Sendmail's queue"

sed -i '/^verify_unreachable *=/d' "$T_DIR/etc/mxport.conf"
echo "verify_unreachable = tempfail" >>"$T_DIR/etc/mxport.conf"
hup_milter
send_sm alice@sender.test frank@down.example >"$T_DIR/s6" 2>&1
t_grep "$T_DIR/s6" "^RCPT frank@down\\.example 451 4\\.4\\.1 " "server down, verify_unreachable = tempfail: 451"
kill -0 "$MILTER_PID"
t_ok $? "mxport-milter still running"

t_done
