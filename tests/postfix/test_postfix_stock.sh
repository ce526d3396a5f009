#!/bin/sh
# test_postfix_stock - the stock path: a Postfix as Debian ships it (stock
# master.cf, chroot y where Debian has it), set up only by
# `mxport-setup postfix -c DIR`, receiving from a client outside mynetworks
# (an address added to lo for the test).
# Each of the four variants (milter+pipe, milter+LMTP, transport_maps+pipe,
# and the default transport_maps+LMTP) in turn:
# forwarded domain -> the customer's port; unknown domain -> 550;
# postmaster@ and an alias of the relay's own domain -> delivered locally;
# outbound mail from mynetworks -> relayed as before; sendmail(1) mail for a
# forwarded domain -> the customer; mxport's lines in Postfix's maillog_file.
# Between the variants: a second run changes nothing, --undo restores
# main.cf, master.cf and mxport.conf byte for byte.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix_stock.sh"
need python3 postfix postconf postalias setpriv ip cmp

# An address outside mynetworks for the client, on lo. Not a fixed one:
# another test that adds and removes the same address would pull it away
# mid-run. 198.18.0.0/15 is for tests (RFC 2544).
OUTSIDE=198.18.$(($$ % 250)).$(($$ / 250 % 250 + 1))
start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer far '{}'
PFAR=$PEER_PORT
FAR="$PEER_DIR"
PF_PORT=$(free_port)
setup_mxport "example.com [127.0.0.1]:$PA"
# No log_file: mxport's lines must reach Postfix's own maillog_file.
sed -i '/^log_file/d; /^helo_name/d' "$T_DIR/etc/mxport.conf"
# not the default: mxport-setup gives the LMTP service the daemon's own bound
echo "lmtp_max_clients = 37" >>"$T_DIR/etc/mxport.conf"
chown mxport "$T_DIR/etc/mxport.conf"
stock_postfix_config
# The admin's own settings, which mxport-setup must keep: a transport for
# an outside domain, and a relay domain of their own.
postconf -c "$PF/etc" -e "transport_maps=inline:{ { far.test = smtp:[127.0.0.1]:$PFAR } }" "relay_domains=backup.test"
stock_postfix_start
outside_address "$OUTSIDE"
for f in main.cf master.cf; do cp "$PF/etc/$f" "$T_DIR/orig.$f"; done
cp "$T_DIR/etc/mxport.conf" "$T_DIR/orig.mxport.conf"
SETUP="$MXPORT_BUILDDIR/setup/mxport-setup"
SETUP_ARGS="-c $PF/etc --mxport-conf $T_DIR/etc/mxport.conf --transport $T_DIR/bin/mxport-transport --mxport-route $T_DIR/bin/mxport-route"
SOCK="$PF/queue/mxport"

# same_as_orig - main.cf, master.cf and mxport.conf as before mxport-setup
same_as_orig() {
	cmp -s "$PF/etc/main.cf" "$T_DIR/orig.main.cf" && cmp -s "$PF/etc/master.cf" "$T_DIR/orig.master.cf" &&
		cmp -s "$T_DIR/etc/mxport.conf" "$T_DIR/orig.mxport.conf"
}
snapshot() {
	for f in main.cf master.cf; do cp "$PF/etc/$f" "$T_DIR/$1.$f"; done
	cp "$T_DIR/etc/mxport.conf" "$T_DIR/$1.mxport.conf"
}
same_as() {
	cmp -s "$PF/etc/main.cf" "$T_DIR/$1.main.cf" && cmp -s "$PF/etc/master.cf" "$T_DIR/$1.master.cf" &&
		cmp -s "$T_DIR/etc/mxport.conf" "$T_DIR/$1.mxport.conf"
}

# Without maillog_file Postfix logs to syslog, and so does mxport: no
# postlog settings, no postdrop group.
mkdir -p "$T_DIR/syslogcf"
grep -v '^maillog_file' "$PF/etc/main.cf" >"$T_DIR/syslogcf/main.cf"
cp "$PF/etc/master.cf" "$T_DIR/syslogcf/"
# shellcheck disable=SC2086
"$SETUP" postfix -c "$T_DIR/syslogcf" --mxport-conf "$T_DIR/etc/mxport.conf" --dry-run >"$T_DIR/dry.syslog" 2>&1
t_grep "$T_DIR/dry.syslog" "^postconf -c $T_DIR/syslogcf -e 'relay_domains=" "no maillog_file: the dry run prints the setup"
t_nogrep "$T_DIR/dry.syslog" "postlog|postdrop" "no maillog_file: mxport logs to syslog (no postlog_socket, no postdrop)"

# A Postfix set up by an older mxport-setup (the socketmap in front of
# transport_maps): the run says that its own mail waits for the milter, and how to fix it
mkdir -p "$T_DIR/oldcf"
cp "$PF/etc/master.cf" "$T_DIR/oldcf/"
sed 's/^transport_maps = /transport_maps = socketmap:unix:mxport\/socketmap.sock:transport, /' "$PF/etc/main.cf" >"$T_DIR/oldcf/main.cf"
"$SETUP" postfix -c "$T_DIR/oldcf" --mxport-conf "$T_DIR/etc/mxport.conf" --mxport-route "$T_DIR/bin/mxport-route" --dry-run >"$T_DIR/dry.old" 2>&1
t_grep "$T_DIR/dry.old" "warning: transport_maps asks mxport's socketmap first .*--undo' and then 'mxport-setup postfix -c $T_DIR/oldcf' again" "an older set-up (socketmap first): a warning that says what to run"

# --dry-run prints the postconf commands and changes nothing
# shellcheck disable=SC2086
"$SETUP" postfix $SETUP_ARGS --dry-run >"$T_DIR/dry" 2>&1
t_ok $? "dry-run: exit 0"
t_grep "$T_DIR/dry" "^postconf -c $PF/etc -e 'relay_domains=backup\.test, pipemap:\{hash:$PF/etc/mxport_routes, static:forwarded\}'" "dry-run: prints the postconf command that adds the routes table to relay_domains"
t_grep "$T_DIR/dry" "^# would write $PF/etc/mxport_routes: 1 route\(s\) of the routes file, then postmap hash:$PF/etc/mxport_routes" "dry-run: says it would write the routes table"
t_grep "$T_DIR/dry" "^postconf -c $PF/etc -M 'mxport-lmtp/unix=" "dry-run: prints the master.cf service (the default variant's lmtp(8))"
same_as_orig
t_ok $? "dry-run: main.cf, master.cf, mxport.conf unchanged"
[ ! -e "$PF/etc/mxport-setup.state" ]
t_ok $? "dry-run: no state file"

# start_stock_milter - mxport-milter with the sockets mxport-setup chose
start_stock_milter() {
	rm -f "$T_DIR/run/milter.pid"
	"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport \
		-P "$T_DIR/run/milter.pid" >>"$T_DIR/milter.stderr" 2>&1 &
	MILTER_PID=$!
	wait_for "mxport-milter" test -S "$SOCK/milter.sock"
	wait_for "mxport-milter socketmap" test -S "$SOCK/socketmap.sock"
}
stop_stock_milter() {
	kill "$MILTER_PID" 2>/dev/null
	wait "$MILTER_PID" 2>/dev/null
	MILTER_PID=
}

n=0
for v in milter lmtp tmaps tmaps-lmtp; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	"$SETUP" postfix $SETUP_ARGS --variant "$v" >"$T_DIR/setup.$v" 2>&1
	t_ok $? "$v: mxport-setup postfix --variant $v"
	snapshot "after.$v"
	# shellcheck disable=SC2086
	"$SETUP" postfix $SETUP_ARGS --variant "$v" >"$T_DIR/setup2.$v" 2>&1
	t_grep "$T_DIR/setup2.$v" "nothing changed" "$v: a second run says nothing changed"
	same_as "after.$v"
	t_ok $? "$v: ... and changed nothing"
	t_grep "$PF/etc/main.cf" "^relay_domains = backup\.test, pipemap:\{hash:$PF/etc/mxport_routes, static:forwarded\}$" "$v: the admin's relay_domains kept, mxport's routes table added (no socketmap)"
	t_grep "$PF/etc/main.cf" "^transport_maps = hash:$PF/etc/mxport_routes, inline:" "$v: transport_maps: the routes table in front of the admin's, no socketmap"
	t_grep "$PF/etc/mxport_routes" "^example\.com	$( [ "${v%lmtp}" != "$v" ] && echo 'mxport-lmtp:unix:mxport/lmtp\.sock' || echo 'mxport:')$" "$v: the routes table routes the file's domain to mxport"
	t_grep "$PF/etc/main.cf" "^smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination$" "$v: defer_unauth_destination (454) became reject_unauth_destination"
	if [ "${v%lmtp}" != "$v" ]; then
		# one qmgr destination for every customer: its limits are the daemon's, not Postfix's 20
		t_grep "$PF/etc/main.cf" "^mxport-lmtp_destination_concurrency_limit = 37$" "$v: the LMTP service's concurrency is the daemon's lmtp_max_clients (37), not Postfix's 20"
		t_grep "$PF/etc/main.cf" "^mxport-lmtp_destination_recipient_limit = 50$" "$v: ... and 50 recipients a delivery, as smtp(8) has for a domain"
		# a host whose MTA was Exim: the package's LMTP daemon still on Exim's socket
		printf '# written by mxport-setup exim\nARGS="-c /etc/mxport/mxport.conf -L unix:/run/mxport/lmtp.sock"\n' >"$T_DIR/lmtp-default"
		# shellcheck disable=SC2086
		"$SETUP" postfix $SETUP_ARGS --variant "$v" --lmtp-default "$T_DIR/lmtp-default" >"$T_DIR/setup3.$v" 2>&1
		t_grep "$T_DIR/setup3.$v" "warning: $T_DIR/lmtp-default starts the LMTP daemon with .*unix:/run/mxport/lmtp\.sock.*, but Postfix's mxport-lmtp connects to unix:$SOCK/lmtp\.sock: run 'mxport-setup exim --undo'" "$v: the LMTP daemon's defaults left on Exim's socket: a warning says so and how to mend it"
		same_as "after.$v"
		t_ok $? "$v: ... and changes nothing"
		printf 'ARGS="-c %s -L unix:%s/lmtp.sock"\n' "$T_DIR/etc/mxport.conf" "$SOCK" >"$T_DIR/lmtp-default"
		# shellcheck disable=SC2086
		"$SETUP" postfix $SETUP_ARGS --variant "$v" --lmtp-default "$T_DIR/lmtp-default" >"$T_DIR/setup4.$v" 2>&1
		t_nogrep "$T_DIR/setup4.$v" "warning" "$v: defaults naming Postfix's socket: no warning"
	else
		! grep -q '^mxport-lmtp_destination' "$PF/etc/main.cf"
		t_ok $? "$v: no LMTP service limits without the LMTP service"
	fi
	t_grep "$T_DIR/etc/mxport.conf" "^milter_socket = unix:$SOCK/milter\.sock$" "$v: mxport.conf names the socket in the queue directory"
	t_grep "$T_DIR/etc/mxport.conf" "^postlog_socket = $PF/queue/public/postlog$" "$v: mxport.conf logs through Postfix's postlog socket"
	t_grep "$T_DIR/etc/mxport.conf" "^helo_name = relay\.test$" "$v: helo_name is Postfix's myhostname"
	if [ "$v" = milter ]; then
		# shellcheck disable=SC2086
		"$SETUP" postfix $SETUP_ARGS --variant lmtp >"$T_DIR/setup.mix" 2>&1
		[ $? -ne 0 ]
		t_ok $? "another variant on top of one set up is refused"
		t_grep "$T_DIR/setup.mix" "set up for the milter variant already: run 'mxport-setup postfix --undo' first" "... saying what to do"
		same_as "after.$v"
		t_ok $? "... and changes nothing"
		# shellcheck disable=SC2086
		"$SETUP" postfix $SETUP_ARGS >"$T_DIR/setup.nov" 2>&1
		t_grep "$T_DIR/setup.nov" "set up for mxport \(milter\) already: nothing changed" "no --variant on a Postfix set up already: its variant stays"
		same_as "after.$v"
		t_ok $? "... and nothing changed"
	fi
	start_stock_milter
	if [ "${v%lmtp}" != "$v" ]; then
		# its own groups and postfix (socket_group), as the unit gets them from the user
		setpriv --reuid=mxport --regid=mxport \
			--groups="$(id -G mxport | tr ' ' ,),$(getent group postfix | cut -d: -f3)" -- \
			"$T_DIR/bin/mxport-transport" \
			-c "$T_DIR/etc/mxport.conf" -L "unix:$SOCK/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
		LMTP_PID=$!
		T_PIDS="$T_PIDS $LMTP_PID"
		wait_for "LMTP daemon" test -S "$SOCK/lmtp.sock"
	fi
	postfix -c "$PF/etc" reload >/dev/null 2>&1
	sleep 1

	# from outside to a forwarded domain: the customer's port
	a_before=$(count_msgs "$A")
	SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "bob$n@example.com" >"$T_DIR/s1.$v" 2>&1
	t_grep "$T_DIR/s1.$v" "^DATA 250 " "$v: from outside, a forwarded domain is accepted"
	wait_until 20 have_msgs "$A" $((a_before + 1))
	t_eq "$(count_msgs "$A")" $((a_before + 1)) "$v: ... and delivered to the customer's port"
	t_grep "$PF/maillog" "connect from unknown\[$(echo "$OUTSIDE" | sed 's/\./\\./g')\]" "$v: the client was $OUTSIDE, outside mynetworks"

	# from outside to an unknown domain: 550
	SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "x@unknown.test" >"$T_DIR/s2.$v" 2>&1
	t_grep "$T_DIR/s2.$v" "^RCPT x@unknown\.test 550 " "$v: from outside, an unknown domain gets 550"

	# from outside to postmaster@ and an alias of the relay's own domain: local
	pm_before=$(grep -c "^Subject: mxport test" "$PM_BOX")
	SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "postmaster@relay.test" >"$T_DIR/s3.$v" 2>&1
	t_grep "$T_DIR/s3.$v" "^DATA 250 " "$v: from outside, postmaster@relay.test accepted"
	SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "abuse@relay.test" >"$T_DIR/s3b.$v" 2>&1
	t_grep "$T_DIR/s3b.$v" "^DATA 250 " "$v: from outside, an alias of the relay's domain accepted"
	wait_until 20 sh -c "[ \$(grep -c '^Subject: mxport test' '$PM_BOX') -ge $((pm_before + 2)) ]"
	t_eq "$(grep -c "^Subject: mxport test" "$PM_BOX")" $((pm_before + 2)) "$v: ... both delivered locally"

	# from mynetworks to an outside domain: relayed as before mxport
	f_before=$(count_msgs "$FAR")
	send_mail me@relay.test "you$n@far.test" >"$T_DIR/s4.$v" 2>&1
	t_grep "$T_DIR/s4.$v" "^DATA 250 " "$v: from mynetworks, an outside domain accepted"
	wait_until 20 have_msgs "$FAR" $((f_before + 1))
	t_eq "$(count_msgs "$FAR")" $((f_before + 1)) "$v: ... and relayed the ordinary way"

	# sendmail(1) to a forwarded domain: the customer
	a_before=$(count_msgs "$A")
	printf 'Subject: submitted %s\n\nby sendmail(1)\n' "$v" |
		/usr/sbin/sendmail -C "$PF/etc" -f me@relay.test "sue$n@example.com"
	wait_until 20 have_msgs "$A" $((a_before + 1))
	t_eq "$(count_msgs "$A")" $((a_before + 1)) "$v: sendmail(1) mail for a forwarded domain reaches the customer"
	t_grep "$(ls -t "$A"/env.* | head -1)" "^RCPT TO:<sue$n@example\.com>" "$v: ... the right recipient"

	# mxport's lines in Postfix's maillog_file, in Postfix's format
	t_grep "$PF/maillog" "^[A-Z][a-z][a-z] [0-9][0-9] [0-9:]{8} relay mxport/transport\[[0-9]+\]: [0-9A-Z.]+: to=<bob$n@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "$v: the transport's delivery line is in maillog_file"
	t_grep "$PF/maillog" "mxport/transport\[[0-9]+\]: [0-9A-Z.]+: to=<sue$n@example\.com>, .*status=sent" "$v: ... for the sendmail(1) message too"
	if [ "${v#tmaps}" = "$v" ]; then
		t_grep "$PF/maillog" "mxport/milter\[[0-9]+\]: [0-9A-F]+: client=unknown\[$OUTSIDE\], forwarded=1 \(<bob$n@example\.com>\)" "$v: the milter's line is in maillog_file"
	fi

	if [ "$v" = milter ]; then
		# The milter's postlog relay passes on mxport lines only, made
		# printable, and only users mxport and postfix can reach it.
		cat >"$T_DIR/relay.py" <<'PYEOF2'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
for line in (b"Dec 02 10:00:00 relay postfix/smtpd[1]: FORGED-POSTFIX-LINE",
             b"garbage FORGED-GARBAGE-LINE",
             b"Dec 02 10:00:00 relay mxport/transport[1]: RELAYED-LINE\x01\n\x1b[31m end",
             b"Dec 02 10:00:00 relay mxport/transport[1]: LONG " + b"A" * 100000,
             b""):
    try:
        s.send(line)
    except OSError as e:
        print("send:", e)
PYEOF2
		setpriv --reuid=mxport --regid=mxport --clear-groups -- /usr/bin/python3 "$T_DIR/relay.py" "$SOCK/postlog.sock" >"$T_DIR/relay.out" 2>&1
		t_ok $? "relay: user mxport reaches the postlog relay"
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 "$T_DIR/relay.py" "$SOCK/postlog.sock" >"$T_DIR/relay.nobody" 2>&1
		t_grep "$T_DIR/relay.nobody" "PermissionError" "relay: another user cannot reach it"
		sleep 1
		t_grep "$PF/maillog" "mxport/transport\[1\]: RELAYED-LINE\?\?\?\[31m end$" "relay: an mxport line is passed on, control characters replaced"
		t_nogrep "$PF/maillog" "FORGED-" "relay: lines that are not mxport's are dropped"
		t_grep "$PF/maillog" "mxport/transport\[1\]: LONG AAAA" "relay: an oversized line is cut, not fatal"
		kill -0 "$MILTER_PID"
		t_ok $? "relay: the milter is still running"

		# unknown_domains = reject: the milter refuses the admin's own relay
		# domain from outside, and logs the refusal; postmaster@ still passes.
		echo "unknown_domains = reject" >>"$T_DIR/etc/mxport.conf"
		sed -i '0,/^unknown_domains = accept$/{/^unknown_domains = accept$/d}' "$T_DIR/etc/mxport.conf"
		hup_milter
		SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "x@backup.test" >"$T_DIR/s5" 2>&1
		t_grep "$T_DIR/s5" "^RCPT x@backup\.test 550 5\.7\.1 " "reject: the milter refuses a domain that is not forwarded"
		t_grep "$PF/maillog" "mxport/milter\[[0-9]+\]: NOQUEUE: reject: client=unknown\[$OUTSIDE\], to=<x@backup\.test>, 550 5\.7\.1 Recipient domain backup\.test is not forwarded" "reject: ... and logs one line for the refused recipient"
		SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "postmaster@relay.test" >"$T_DIR/s6" 2>&1
		t_grep "$T_DIR/s6" "^DATA 250 " "reject: postmaster@ the relay's domain still accepted (delivered locally)"
		SENDMSG_SOURCE=$OUTSIDE send_mail alice@sender.test "abuse@relay.test" >"$T_DIR/s7" 2>&1
		t_grep "$T_DIR/s7" "^DATA 250 " "reject: an alias of the relay's domain still accepted ({rcpt_mailer} local)"
		wait_until 20 sh -c "[ \$(grep -c '^Subject: mxport test' '$PM_BOX') -ge $((pm_before + 4)) ]"
		t_eq "$(grep -c "^Subject: mxport test" "$PM_BOX")" $((pm_before + 4)) "reject: ... both delivered locally"
		cp "$T_DIR/after.milter.mxport.conf" "$T_DIR/etc/mxport.conf"
	fi

	stop_stock_milter
	[ "${v%lmtp}" != "$v" ] && kill "$LMTP_PID" 2>/dev/null && wait "$LMTP_PID" 2>/dev/null
	# shellcheck disable=SC2086
	"$SETUP" postfix $SETUP_ARGS --undo >"$T_DIR/undo.$v" 2>&1
	t_ok $? "$v: --undo"
	same_as_orig
	t_ok $? "$v: --undo restored main.cf, master.cf and mxport.conf byte for byte"
	[ ! -e "$PF/etc/mxport_header_checks" ] && [ ! -e "$PF/etc/mxport-setup.state" ] &&
		[ ! -e "$PF/etc/mxport_routes" ] && [ ! -e "$PF/etc/mxport_routes.db" ]
	t_ok $? "$v: --undo removed the files it made"
	postfix -c "$PF/etc" reload >/dev/null 2>&1
	sleep 1
done

# A log destination that cannot be opened is an error, at start and in -n.
cp "$T_DIR/etc/mxport.conf" "$T_DIR/badlog.conf"
echo "log_file = $T_DIR/no/such/dir/mxport.log" >>"$T_DIR/badlog.conf"
"$T_DIR/bin/mxport-milter" -n -c "$T_DIR/badlog.conf" >"$T_DIR/badlog.n" 2>&1
[ $? -ne 0 ]
t_ok $? "log_file that cannot be created: mxport-milter -n fails"
t_grep "$T_DIR/badlog.n" "log_file: cannot create log_file $T_DIR/no/such/dir/mxport\.log" "... and names the file"
"$T_DIR/bin/mxport-route" -n -c "$T_DIR/badlog.conf" >"$T_DIR/badlog.r" 2>&1
[ $? -ne 0 ]
t_ok $? "... mxport-route -n fails too"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/badlog.conf" >"$T_DIR/badlog.f" 2>&1
[ $? -ne 0 ]
t_ok $? "... and mxport-milter does not start"
cp "$T_DIR/etc/mxport.conf" "$T_DIR/badpostlog.conf"
echo "postlog_socket = $T_DIR/no/such/dir/postlog" >>"$T_DIR/badpostlog.conf"
"$T_DIR/bin/mxport-milter" -n -c "$T_DIR/badpostlog.conf" >"$T_DIR/badpostlog.n" 2>&1
[ $? -ne 0 ]
t_ok $? "postlog_socket in a folder that is not there: mxport-milter -n fails"
t_grep "$T_DIR/badpostlog.n" "postlog_socket: cannot connect to $T_DIR/no/such/dir/postlog" "... and names the socket"
# Postfix not running yet (mxport starts first at boot): a warning, not an error.
cp "$T_DIR/etc/mxport.conf" "$T_DIR/latepostlog.conf"
echo "postlog_socket = $T_DIR/no-postlog-yet" >>"$T_DIR/latepostlog.conf"
"$T_DIR/bin/mxport-milter" -n -c "$T_DIR/latepostlog.conf" >"$T_DIR/latepostlog.n" 2>&1
t_ok $? "postlogd not running yet: mxport-milter -n passes"
t_grep "$T_DIR/latepostlog.n" "warning: postlog_socket $T_DIR/no-postlog-yet: .*syslog until" "... with a warning that names the socket"

# The transport defers (never loses) mail when its log_file cannot be opened.
printf 'Subject: x\n\nbody\n' | setpriv --reuid=mxport --regid=mxport --clear-groups -- \
	"$T_DIR/bin/mxport-transport" -c "$T_DIR/badlog.conf" -q TESTQ -f a@sender.test -- b@example.com >"$T_DIR/badlog.t" 2>&1
t_eq $? 75 "log_file that cannot be created: the transport defers (75)"
t_grep "$T_DIR/badlog.t" "^4\.3\.5 .*log_file" "... and says why"

# bad arguments are named
"$SETUP" postfix -c "$PF/etc" --variant nonsense >"$T_DIR/bad" 2>&1
[ $? -ne 0 ]
t_ok $? "a bad --variant is an error"
t_grep "$T_DIR/bad" "nonsense" "... that names it"

t_done
