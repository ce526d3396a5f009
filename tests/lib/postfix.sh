# postfix.sh - a private Postfix instance on loopback with mxport installed
# from contrib/postfix, for the end-to-end tests. Source after harness.sh.
# start_postfix pastes the milter path (contrib/postfix/milter: milter,
# header check, pipe(8)), which most tests exercise; with MXPORT_CONTRIB=default
# it pastes the default path instead (contrib/postfix/main.cf and master.cf:
# socketmap and the LMTP service; start the daemon with start_lmtp).
#
# The contrib files are used as they are; only their paths are rewritten to
# this test's folders (/run/mxport, /etc/mxport, /etc/postfix and the
# install prefix).

PF="$T_DIR/postfix"

# ensure_user NAME - a system user for pipe(8)'s user= (it refuses root).
# Tests run in parallel: two may race to create it, and the loser retries.
ensure_user() {
	for try in 1 2 3 4 5 6 7 8 9 10; do
		id "$1" >/dev/null 2>&1 && return 0
		useradd --system --no-create-home --shell /usr/sbin/nologin "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	echo "Bail out! cannot create user $1"
	exit 99
}

# contrib_paths FILE - a contrib file with its paths made this test's
contrib_paths() {
	sed -e "s|/run/mxport|$T_DIR/run|g" \
		-e "s|/etc/mxport|$T_DIR/etc|g" \
		-e "s|/etc/postfix|$PF/etc|g" \
		-e "s|/usr/local/libexec|$T_DIR/bin|g" \
		-e "s|/usr/local/sbin|$T_DIR/bin|g" "$1"
}

# setup_mxport ROUTES - binaries, mxport.conf and routes in $T_DIR (readable by user mxport)
# Extra mxport.conf lines come from $MXPORT_EXTRA_CONF.
setup_mxport() {
	ensure_user mxport
	mkdir -p "$T_DIR/bin" "$T_DIR/etc" "$T_DIR/run"
	chmod 755 "$T_DIR/bin" "$T_DIR/etc" "$T_DIR/run"
	cp "$MXPORT_BUILDDIR/mxport-transport" "$MXPORT_BUILDDIR/mxport-milter" \
		"$MXPORT_BUILDDIR/mxport-route" "$T_DIR/bin/"
	printf '%s\n' "$1" >"$T_DIR/etc/routes"
	MXLOG="$T_DIR/mxport.log"
	: >"$MXLOG"
	chmod 666 "$MXLOG"
	# contrib's file, then the harness's settings, then the test's own: for
	# a key set more than once the last line wins (mxport.conf itself
	# refuses a key set twice, rightly).
	{
		contrib_paths "$MXPORT_SRCDIR/contrib/postfix/mxport.conf"
		echo "log_file = $MXLOG"
		echo "allowed_networks = 127.0.0.0/8"
		echo "local_ports = $PF_PORT"
		echo "helo_name = relay.test"
		echo "connect_timeout = 3s"
		echo "command_timeout = 10s"
		# the pipe(8) service of the milter path (contrib's file names the LMTP one)
		[ "${MXPORT_CONTRIB:-milter}" = default ] || echo "postfix_transport = mxport:"
		printf '%s\n' "${MXPORT_EXTRA_CONF:-}"
	} | awk '{ key = $1 } /^[a-z_]+ *=/ { last[key] = NR } { line[NR] = $0; k[NR] = key }
		END { for (i = 1; i <= NR; i++) if (!(k[i] in last) || last[k[i]] == i) print line[i] }' \
		>"$T_DIR/etc/mxport.conf"
	chmod 644 "$T_DIR/etc/mxport.conf" "$T_DIR/etc/routes"
}

# start_milter [hup] - mxport-milter in the background, as user mxport;
# hup: send it SIGHUPs from the moment its socket appears
start_milter() {
	rm -f "$T_DIR/run/milter.pid"
	"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport \
		-P "$T_DIR/run/milter.pid" >>"$T_DIR/milter.stderr" 2>&1 &
	MILTER_PID=$!
	if [ "${1:-}" = hup ]; then
		# the moment the socket appears, as a boot script's "start; reload"
		i=0
		while ! test -S "$T_DIR/run/milter.sock" && [ $i -lt 2000 ]; do
			i=$((i + 1))
			sleep 0.005
		done
		# and a burst after it, through the milter's start-up
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			kill -HUP "$MILTER_PID" 2>/dev/null
			sleep 0.01
		done
	fi
	wait_for "mxport-milter" test -S "$T_DIR/run/milter.sock"
	wait_for "mxport-milter socketmap" test -S "$T_DIR/run/socketmap.sock"
}

# milter_reloads - how many reloads the milter has put in force so far (its
# stderr: -f logs there whatever log_file says)
milter_reloads() {
	grep -c "reload: configuration .* is in force" "$T_DIR/milter.stderr"
}
milter_reloads_above() {
	[ "$(milter_reloads)" -gt "$1" ]
}

# hup_milter - SIGHUP, and wait until the new configuration is in force
hup_milter() {
	n=$(milter_reloads)
	kill -HUP "$MILTER_PID"
	wait_until 10 milter_reloads_above "$n"
}

# stop_milter - SIGTERM and wait (libmilter can take seconds)
stop_milter() {
	kill "$MILTER_PID" 2>/dev/null
	wait "$MILTER_PID" 2>/dev/null
	rm -f "$T_DIR/run/milter.sock" "$T_DIR/run/socketmap.sock"
}

# start_postfix BOUNCE_PORT - private Postfix, smtpd on 127.0.0.1:$PF_PORT
# (PF_PORT must be set before setup_mxport); mail for sender.test goes to
# 127.0.0.1:BOUNCE_PORT, where the test's sender sink records bounces.
start_postfix() {
	need postfix postconf postqueue postsuper
	PF="$T_DIR/postfix"
	mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
	chown root:root "$PF/queue"
	chmod 755 "$PF/queue"
	chown postfix:postfix "$PF/data"
	chmod 700 "$PF/data"
	cat >"$PF/etc/main.cf" <<PFEOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# The test clients on 127.0.0.1 are strangers, not trusted networks.
mynetworks = 192.0.2.1/32
smtpd_peername_lookup = no
maillog_file = $PF/maillog
maillog_file_prefixes = $T_DIR
biff = no
append_dot_mydomain = no
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
delay_warning_time = 0
smtp_connect_timeout = 5s
smtpd_banner = \$myhostname ESMTP
PFEOF
	if [ "${MXPORT_CONTRIB:-milter}" = default ]; then cdir=$MXPORT_SRCDIR/contrib/postfix; else cdir=$MXPORT_SRCDIR/contrib/postfix/milter; fi
	contrib_paths "$cdir/main.cf" >"$PF/contrib.main.cf"
	cat "$PF/contrib.main.cf" >>"$PF/etc/main.cf"
	# Bounces and other mail for the test senders go to the sender sink; so
	# does local.test, a domain this relay serves itself (not forwarded).
	# These entries go in front of contrib's transport_maps, as its comment
	# tells an admin to put their own.
	tmaps="inline:{ { sender.test = smtp:[127.0.0.1]:$1 }, { local.test = smtp:[127.0.0.1]:$1 } }"
	contrib_tmaps=$(sed -n 's/^transport_maps *= *//p' "$PF/contrib.main.cf")
	postconf -c "$PF/etc" -e "transport_maps=$tmaps${contrib_tmaps:+, $contrib_tmaps}"
	if [ -f "$cdir/mxport_header_checks" ]; then
		contrib_paths "$cdir/mxport_header_checks" >"$PF/etc/mxport_header_checks"
	fi
	# Debian's master.cf, every service out of chroot, smtpd on our port.
	grep -v '^#' /usr/share/postfix/master.cf.dist |
		awk -v port="127.0.0.1:$PF_PORT" '
			/^[a-z]/ { skip = 0 }
			/^(maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman|tlsmgr|smtp[ \t]+inet)/ { skip = 1 }
			skip { next }
			/^[a-z]/ && NF >= 8 { $5 = "n" }
			{ print }
			END { printf "%s inet n - n - - smtpd\n", port }' >"$PF/etc/master.cf"
	contrib_paths "$cdir/master.cf" >>"$PF/etc/master.cf"
	postfix -c "$PF/etc" check >"$PF/check.log" 2>&1 || { cat "$PF/check.log"; echo "Bail out! postfix check failed"; exit 99; }
	postfix -c "$PF/etc" start >>"$PF/check.log" 2>&1 || { cat "$PF/check.log"; echo "Bail out! postfix start failed"; exit 99; }
	T_STOP="${T_STOP:-} postfix -c $PF/etc stop;"
	wait_for "postfix smtpd" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PF_PORT)).close()"
}

# start_outside_mta PORT BIND_ADDR DOMAIN... - a second private Postfix
# that plays another site's MTA: mail it is given for DOMAIN... goes by its
# smtp(8) to 127.0.0.1:PORT (the relay), from BIND_ADDR. No smtpd of its own;
# submit with "sendmail -C $OPF/etc". Sets OPF.
start_outside_mta() {
	OPF="$T_DIR/outside"
	port=$1
	bind=$2
	shift 2
	mkdir -p "$OPF/etc" "$OPF/queue" "$OPF/data"
	chown root:root "$OPF/queue"
	chmod 755 "$OPF/queue"
	chown postfix:postfix "$OPF/data"
	chmod 700 "$OPF/data"
	tm=""
	for d in "$@"; do
		tm="$tm${tm:+, }{ $d = smtp:[127.0.0.1]:$port }"
	done
	cat >"$OPF/etc/main.cf" <<OPFEOF
compatibility_level = 3.6
queue_directory = $OPF/queue
data_directory = $OPF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = outside.test
mydomain = outside.test
myorigin = outside.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $OPF/maillog
maillog_file_prefixes = $T_DIR
biff = no
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
delay_warning_time = 0
smtp_bind_address = $bind
transport_maps = inline:{ $tm }
OPFEOF
	grep -v '^#' /usr/share/postfix/master.cf.dist |
		awk '/^[a-z]/ { skip = 0 }
			/^(maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman|tlsmgr|smtp[ \t]+inet)/ { skip = 1 }
			skip { next }
			/^[a-z]/ && NF >= 8 { $5 = "n" }
			{ print }' >"$OPF/etc/master.cf"
	postfix -c "$OPF/etc" check >"$OPF/check.log" 2>&1 || { cat "$OPF/check.log"; echo "Bail out! postfix check (outside MTA) failed"; exit 99; }
	postfix -c "$OPF/etc" start >>"$OPF/check.log" 2>&1 || { cat "$OPF/check.log"; echo "Bail out! postfix start (outside MTA) failed"; exit 99; }
	T_STOP="${T_STOP:-} postfix -c $OPF/etc stop;"
}

# sendmail_standin PATH PORT - a sendmail(1) for sendmail_path that submits
# by SMTP to 127.0.0.1:PORT. Postfix's own sendmail(1) refuses a private
# instance's -C to a user other than root unless /etc/postfix/main.cf
# authorizes the directory, and the tests leave /etc/postfix alone; the
# notices the transport hands to it are then queued like any mail.
sendmail_standin() {
	cat >"$1" <<EOF
#!/usr/bin/python3
# sendmail -i -f SENDER -- RCPT... : the message on stdin, to the private Postfix
import smtplib, sys
args = sys.argv[1:]
sender = args[args.index("-f") + 1]
rcpts = args[args.index("--") + 1:]
sender = "" if sender == "<>" else sender
msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
try:
    s = smtplib.SMTP("127.0.0.1", $2, local_hostname="relay.test", timeout=30)
    s.sendmail(sender, rcpts, msg)
    s.quit()
except Exception as e:
    print("sendmail-pf: %s" % e, file=sys.stderr)
    sys.exit(75)
EOF
	chmod 755 "$1"
}

# pf_queue_count - messages in the private queue
pf_queue_count() {
	postqueue -c "$PF/etc" -j 2>/dev/null | grep -c queue_id
}

# pf_flush - ask Postfix to deliver the deferred mail now
pf_flush() {
	postqueue -c "$PF/etc" -f
}

# wait_until SECONDS CMD... - poll CMD until it succeeds; false after SECONDS
wait_until() {
	limit=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$limit" ] && return 1
		sleep 0.2
	done
	return 0
}

# send_mail FROM RCPT[,RCPT...] [HEADERS_FILE] - one message by SMTP to the
# relay; prints each server reply; exit 0 when the message was accepted
send_mail() {
	python3 "$MXPORT_SRCDIR/tests/lib/sendmsg.py" 127.0.0.1 "$PF_PORT" "$@"
}

# queue_empty - the private Postfix queue holds nothing
queue_empty() {
	[ "$(pf_queue_count)" -eq 0 ]
}

# queue_has N - the private Postfix queue holds at least N messages
queue_has() {
	[ "$(pf_queue_count)" -ge "$1" ]
}

# start_lmtp - mxport-transport -L on $T_DIR/run/lmtp.sock, as user mxport
# with group postfix among its groups (the package's unit: the user's groups),
# so that it can give the socket to group postfix (socket_group)
start_lmtp() {
	chown mxport "$T_DIR/run"
	setpriv --reuid=mxport --regid=mxport --groups=postfix -- "$T_DIR/bin/mxport-transport" \
		-c "$T_DIR/etc/mxport.conf" -L "unix:$T_DIR/run/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "LMTP daemon" test -S "$T_DIR/run/lmtp.sock"
}

# start_customer_postfix NAME PORT SINK_PORT [MAIN_CF_LINES] - a plain
# private Postfix playing a customer's home server (no mxport in it):
# smtpd on 127.0.0.1:PORT takes mail for any domain and relays it all to
# 127.0.0.1:SINK_PORT; its log is $T_DIR/NAME/maillog.
start_customer_postfix() {
	need postfix postconf
	cdir="$T_DIR/$1"
	mkdir -p "$cdir/etc" "$cdir/queue" "$cdir/data"
	chown root:root "$cdir/queue"
	chmod 755 "$cdir/queue"
	chown postfix:postfix "$cdir/data"
	chmod 700 "$cdir/data"
	cat >"$cdir/etc/main.cf" <<PFEOF
compatibility_level = 3.6
queue_directory = $cdir/queue
data_directory = $cdir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $1.customer.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.1/32
smtpd_peername_lookup = no
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
maillog_file = $cdir/maillog
maillog_file_prefixes = $T_DIR
biff = no
relay_transport = smtp:[127.0.0.1]:$3
default_transport = smtp:[127.0.0.1]:$3
smtp_connect_timeout = 5s
${4:-}
PFEOF
	grep -v '^#' /usr/share/postfix/master.cf.dist |
		awk -v port="127.0.0.1:$2" '
			/^[a-z]/ { skip = 0 }
			/^(maildrop|uucp|ifmail|bsmtp|scalemail-backend|mailman|tlsmgr|smtp[ \t]+inet)/ { skip = 1 }
			skip { next }
			/^[a-z]/ && NF >= 8 { $5 = "n" }
			{ print }
			END { printf "%s inet n - n - - smtpd\n", port }' >"$cdir/etc/master.cf"
	postfix -c "$cdir/etc" check >"$cdir/check.log" 2>&1 || { cat "$cdir/check.log"; echo "Bail out! postfix check ($1) failed"; exit 99; }
	postfix -c "$cdir/etc" start >>"$cdir/check.log" 2>&1 || { cat "$cdir/check.log"; echo "Bail out! postfix start ($1) failed"; exit 99; }
	T_STOP="${T_STOP:-} postfix -c $cdir/etc stop;"
	wait_for "postfix smtpd ($1)" python3 -c "import socket; socket.create_connection(('127.0.0.1', $2)).close()"
}
