#!/bin/sh
# test_postfix_default - the default path, as an admin gets it: a Postfix as
# Debian ships it (stock master.cf, chroot y), set up by `mxport-setup
# postfix` with no --variant (no milter: the relay check and transport_maps
# ask mxport's socketmap, Postfix's chrooted lmtp(8) delivers to the LMTP
# daemon), mail from a client outside mynetworks. Everything the milter
# gave must still hold:
#   forwarded domain -> the customer, by the LMTP daemon, with XFORWARD and
#   the forged X-Mxport fields stripped; unknown domain and null route -> 550
#   (relay_domains_reject_code); DNS trouble -> 451 (socketmap TEMP); one
#   message for a forwarded and a local recipient -> split by Postfix itself
#   (no 452); sendmail(1) mail and a bounce for a forwarded domain -> the
#   customer; a route back to this relay -> bounced once with 5.4.6
#   (X-Loop-Mxport); a customer down past notify_after -> a notice to the
#   contact, queued by Postfix.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix_stock.sh"
need python3 postfix postconf postalias setpriv ip

# An address outside mynetworks for the client (see test_postfix_stock).
OUTSIDE=198.18.$(($$ % 250)).$(($$ / 250 % 250 + 1))
start_peer custA '{"ehlo": ["PIPELINING", "XFORWARD ADDR HELO", "8BITMIME"]}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custR '{"rcpt": "550 5.1.1 No such user here"}'
PR=$PEER_PORT
start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
start_peer contact '{}'
PC=$PEER_PORT
C="$PEER_DIR"
DOWN=$(free_port)
PF_PORT=$(free_port)
PF_PORT2=$(free_port)
SUB_PORT=$PF_PORT
MXPORT_EXTRA_CONF="notify_after = 3s
state_directory = $T_DIR/state
sendmail_path = $T_DIR/bin/sendmail-pf"
setup_mxport "example.com [127.0.0.1]:$PA
refuse.example [127.0.0.1]:$PR
null.example .
down.example [127.0.0.1]:$DOWN notify=owner@contact.test
loop.example [127.0.0.1]:$PF_PORT2"
# No log_file: mxport's lines go to Postfix's maillog_file.
sed -i '/^log_file/d; /^helo_name/d' "$T_DIR/etc/mxport.conf"
chown mxport "$T_DIR/etc/mxport.conf"
mkdir -p "$T_DIR/state"
chown mxport "$T_DIR/state"
# Postfix's sendmail(1) refuses a private instance's -C to a user other than
# root (sendmail_standin): the notices go by SMTP from 127.0.0.1, which the
# stock mynetworks trusts.
sendmail_standin "$T_DIR/bin/sendmail-pf" "$SUB_PORT"
stock_postfix_config
# The admin's own transports (the test's sinks), which stay in front.
postconf -c "$PF/etc" -e "transport_maps=inline:{ { sender.test = smtp:[127.0.0.1]:$PS }, { contact.test = smtp:[127.0.0.1]:$PC } }"
# A second port of this Postfix (as a submission port is), chrooted as the
# stock smtpd: loop.example's route points back at it.
echo "127.0.0.1:$PF_PORT2 inet n - y - - smtpd" >>"$PF/etc/master.cf"
stock_postfix_start
outside_address "$OUTSIDE"
SOCK="$PF/queue/mxport"

"$MXPORT_BUILDDIR/setup/mxport-setup" postfix -c "$PF/etc" --mxport-conf "$T_DIR/etc/mxport.conf" \
	--transport "$T_DIR/bin/mxport-transport" >"$T_DIR/setup.out" 2>&1
t_ok $? "mxport-setup postfix (no --variant)"
t_grep "$T_DIR/setup.out" "set up for mxport \(tmaps-lmtp\)" "the default variant is tmaps-lmtp"
t_grep "$T_DIR/setup.out" "start the LMTP service \(mxport-lmtp\): .* -L unix:$SOCK/lmtp\.sock" "... and says to start the LMTP daemon on the queue directory's socket"
t_eq "$(postconf -c "$PF/etc" -h smtpd_milters milter_header_checks | tr -d '\n')" "" "no milter, no header check"
t_grep "$PF/etc/main.cf" "^transport_maps = hash:$PF/etc/mxport_routes, inline:" "transport_maps: the routes table, in front of the admin's (no socketmap)"
t_grep "$PF/etc/main.cf" "^relay_domains = pipemap:\{hash:$PF/etc/mxport_routes, static:forwarded\}$" "relay_domains: the routes table, exact names only (no socketmap)"
t_nogrep "$PF/etc/mxport_routes" "^null\.example" "the routes table leaves the null route out (550)"
postconf -c "$PF/etc" -M mxport-lmtp/unix >"$T_DIR/service" 2>&1
t_grep "$T_DIR/service" "^mxport-lmtp +unix +- +- +y +- +- +lmtp .*lmtp_send_xforward_command=yes" "the lmtp(8) service, chrooted, with XFORWARD"
t_eq "$(postconf -c "$PF/etc" -M mxport/unix 2>/dev/null)" "" "no pipe(8) service"
t_grep "$T_DIR/etc/mxport.conf" "^postfix_transport = mxport-lmtp:unix:mxport/lmtp\.sock$" "mxport.conf: the socketmap routes to the LMTP service"

"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport -P "$T_DIR/run/milter.pid" \
	>>"$T_DIR/milter.stderr" 2>&1 &
MILTER_PID=$!
wait_for "mxport-milter socketmap" test -S "$SOCK/socketmap.sock"
# as the setup says: user mxport, groups postfix (socket_group) and postdrop (postlog)
setpriv --reuid=mxport --regid=mxport --groups="$(id -G mxport | tr ' ' ,),$(getent group postfix | cut -d: -f3)" -- \
	"$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -L "unix:$SOCK/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "LMTP daemon" test -S "$SOCK/lmtp.sock"
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1
all_sessions() {
	cat "$1"/session.* 2>/dev/null | tr -d '\r'
}

# 1. a forwarded domain, from outside: the LMTP daemon, XFORWARD, no forged tags
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_grep "$T_DIR/s1" "^DATA 250 " "forwarded domain from outside: accepted"
wait_until 20 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "... delivered to the customer's port"
t_grep "$PF/maillog" "postfix/lmtp\[[0-9]+\]: [0-9A-F]+: to=<bob@example\.com>, relay=.*lmtp\.sock.*status=sent" "... by Postfix's chrooted lmtp(8) through the LMTP daemon"
t_grep "$PF/maillog" "mxport/transport\[[0-9]+\]: [0-9A-Z.]+: to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "... the transport's line in maillog_file"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "... the forged X-Mxport fields stripped"
t_grep "$A/msg.1" "^X-Loop-Mxport: example\.com by relay\.test.?$" "... with X-Loop-Mxport for its domain"
all_sessions "$A" >"$T_DIR/a.cmds"
t_grep "$T_DIR/a.cmds" "^XFORWARD ADDR=$OUTSIDE HELO=client\.test$" "... XFORWARD names the original client $OUTSIDE"
t_nogrep "$PF/maillog" "mxport/milter\[[0-9]+\]: [0-9A-F]+: client=" "no milter saw the message"

# 2. refusals: the relay check's code (relay_domains_reject_code)
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test x@unknown.test >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT x@unknown\.test 550 " "unknown domain from outside: 550"
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test x@null.example >"$T_DIR/s3" 2>&1
t_grep "$T_DIR/s3" "^RCPT x@null\.example 550 " "null route: 550"

# 3. one message, a forwarded and a local recipient: Postfix splits it
pm_before=$(grep -c "^Subject: mxport test" "$PM_BOX")
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test carl@example.com,postmaster@relay.test >"$T_DIR/s4" 2>&1
t_eq "$(grep -c '^RCPT .* 250 ' "$T_DIR/s4")" 2 "mixed message: both recipients accepted at once"
t_eq "$(grep -c '^MAIL ' "$T_DIR/s4")" 1 "... in one transaction (no 452)"
wait_until 20 have_msgs "$A" 2
wait_until 20 sh -c "[ \$(grep -c '^Subject: mxport test' '$PM_BOX') -ge $((pm_before + 1)) ]"
t_eq "$(count_msgs "$A")" 2 "... the forwarded recipient's copy reached the customer"
t_eq "$(cat "$A/env.2" | grep -c '^RCPT')" 1 "... with its recipient only"
t_grep "$A/env.2" "^RCPT TO:<carl@example\.com>" "... carl@example.com"
t_eq "$(grep -c "^Subject: mxport test" "$PM_BOX")" $((pm_before + 1)) "... postmaster@ delivered locally"

# 4. sendmail(1) and a bounce for a forwarded domain
printf 'Subject: submitted\n\nby sendmail(1)\n' | /usr/sbin/sendmail -C "$PF/etc" -f me@relay.test sue@example.com
wait_until 20 have_msgs "$A" 3
t_grep "$A/env.3" "^RCPT TO:<sue@example\.com>" "sendmail(1) mail for a forwarded domain reaches the customer"
SENDMSG_SOURCE=$OUTSIDE send_mail alice@example.com nobody@refuse.example >"$T_DIR/s5" 2>&1
t_grep "$T_DIR/s5" "^DATA 250 " "a message from a forwarded domain's user to a refusing customer: accepted"
wait_until 30 have_msgs "$A" 4
t_grep "$A/env.4" "^MAIL FROM:<>" "... the bounce (null sender) went to the customer"
t_grep "$A/env.4" "^RCPT TO:<alice@example\.com>" "... for the sender"
t_grep "$A/msg.4" "550 5\.1\.1 No such user here" "... with the refusing server's text"

# 5. a route back to this relay: bounced once, 5.4.6
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test bob@loop.example >"$T_DIR/s6" 2>&1
t_grep "$T_DIR/s6" "^DATA 250 " "loop: accepted"
wait_until 30 have_msgs "$S" 1
t_grep "$(ls "$S"/msg.* | head -1)" "Status: 5\.4\.6" "loop: the returning copy bounced with 5.4.6"
t_nogrep "$PF/maillog" "too many hops" "loop: Postfix's hop limit never came into it"

# 6. the customer's server down past notify_after: a notice to the contact
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test erin@down.example >"$T_DIR/s7" 2>&1
t_grep "$T_DIR/s7" "^DATA 250 " "customer down: accepted"
wait_until 60 have_msgs "$C" 1
t_eq "$(count_msgs "$C")" 1 "customer down: one notice reached the contact's server"
t_grep "$C/env.1" "^RCPT TO:<owner@contact\.test>" "... to the contact"
t_grep "$C/msg.1" "^Subject: Mail for down\.example is waiting" "... saying that mail waits"

# 7. DNS trouble: the socketmap answers TEMP, smtpd 451 (routes-file domains still pass)
start_dnsstub servfail
sed -i "s/^dns_routes = .*/dns_routes = yes/" "$T_DIR/etc/mxport.conf"
echo "dns_servers = 127.0.0.1:$STUB_PORT" >>"$T_DIR/etc/mxport.conf"
hup_milter
# SRV routes need the socketmap, which mxport-setup adds (last) when
# dns_routes is on: run it again, as after turning verification on
"$MXPORT_BUILDDIR/setup/mxport-setup" postfix -c "$PF/etc" --mxport-conf "$T_DIR/etc/mxport.conf" \
	--transport "$T_DIR/bin/mxport-transport" >"$T_DIR/setup.dns" 2>&1
t_grep "$PF/etc/main.cf" "^relay_domains = pipemap:\{hash:$PF/etc/mxport_routes, static:forwarded\}, socketmap:unix:mxport/socketmap\.sock:relay$" "dns_routes = yes: mxport-setup adds the socketmap to relay_domains, last"
t_grep "$PF/etc/main.cf" "^transport_maps = hash:$PF/etc/mxport_routes, inline:.*, socketmap:unix:mxport/socketmap\.sock:transport$" "... and to transport_maps, last"
reloads=$(grep -c 'reload -- version' "$PF/maillog")
postfix -c "$PF/etc" reload >/dev/null 2>&1
wait_until 20 sh -c "[ \$(grep -c 'reload -- version' '$PF/maillog') -gt $reloads ]"
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test y@srvonly.test >"$T_DIR/s8" 2>&1
t_grep "$T_DIR/s8" "^RCPT y@srvonly\.test 451 " "DNS SERVFAIL: 451 at RCPT"
SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test z@example.com >"$T_DIR/s9" 2>&1
t_grep "$T_DIR/s9" "^RCPT z@example\.com 250 " "... a routes-file domain still accepted"

t_done
