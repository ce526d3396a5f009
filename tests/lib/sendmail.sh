# sendmail.sh - a private Sendmail 8.17 on loopback with contrib/sendmail,
# for the end-to-end tests. Source after harness.sh and postfix.sh (for the
# shared mxport set-up).
#
# Debian's sendmail-bin cannot be installed beside Postfix (both are the
# MTA), so its packages are unpacked into a folder of their own, once.

# sm_fetch - the unpacked Debian Sendmail in $SM_ROOT
sm_fetch() {
	need m4 dpkg
	SM_ROOT=${MXPORT_SENDMAIL_ROOT:-/var/tmp/mxport-sendmail}
	if [ ! -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ]; then
		need apt-get
		rm -rf "$SM_ROOT" "$SM_ROOT.debs"
		mkdir -p "$SM_ROOT.debs"
		chmod 777 "$SM_ROOT.debs" # apt-get download runs as _apt where it can
		if ! (cd "$SM_ROOT.debs" && apt-get download sendmail-bin sendmail-cf sendmail-base) \
			>"$T_DIR/sm-download.log" 2>&1; then
			cat "$T_DIR/sm-download.log"
			echo "Bail out! cannot download Debian's sendmail packages (apt-get download)"
			exit 99
		fi
		for deb in "$SM_ROOT.debs"/*.deb; do
			dpkg -x "$deb" "$SM_ROOT"
		done
	fi
	if ! ldconfig -p | grep -q 'libwrap\.so\.0'; then
		echo "Bail out! libwrap0 is not installed (Sendmail needs it; see .ci/run)"
		exit 99
	fi
}

# sm_exec ARGS... - run the private sendmail with a fully qualified host name
# (an unqualified one costs a 60 s sleep at start), in a UTS namespace of its own
sm_exec() {
	unshare -u sh -c 'hostname relay.test && exec "$0" "$@"' "$SM/sendmail" -C "$SM/sendmail.cf" "$@"
}

# start_sendmail SINK_PORT - Sendmail on 127.0.0.1:$SM_PORT with contrib/sendmail
# (after the .mc lines in $SM_MC_EXTRA, if any);
# mail for sender.test (bounces) goes to 127.0.0.2:SINK_PORT (not 127.0.0.1:
# Sendmail counts every name of its own addresses as local)
start_sendmail() {
	sm_fetch
	need unshare
	SM="$T_DIR/sendmail"
	mkdir -p "$SM/queue"
	chmod 700 "$SM/queue"
	cp "$SM_ROOT/usr/libexec/sendmail/sendmail" "$SM/sendmail" # a copy without setgid
	printf '127.0.0.1 localhost relay.test\n127.0.0.2 sender.test\n' >"$SM/hosts"
	printf 'hosts files\naliases files\n' >"$SM/service.switch"
	: >"$SM/statistics"
	: >"$SM/local-host-names"
	cf="$SM_ROOT/usr/share/sendmail/cf"
	{
		cat <<MCEOF
divert(-1)
define(\`_CF_DIR_', \`$cf/')
include(\`$cf/m4/cf.m4')
divert(0)dnl
VERSIONID(\`mxport test relay')dnl
OSTYPE(\`linux')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe')dnl
define(\`QUEUE_DIR', \`$SM/queue')dnl
define(\`STATUS_FILE', \`$SM/statistics')dnl
define(\`ALIAS_FILE', \`$SM/aliases')dnl
define(\`HELP_FILE', \`$SM/helpfile')dnl
define(\`confPID_FILE', \`$SM/sendmail.pid')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM/service.switch')dnl
define(\`confHOSTS_FILE', \`$SM/hosts')dnl
define(\`confCW_FILE', \`$SM/local-host-names')dnl
define(\`confDOMAIN_NAME', \`relay.test')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confQUEUE_LA', \`100')dnl
define(\`confREFUSE_LA', \`100')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $1')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.2]')dnl
define(\`LOCAL_MAILER_PATH', \`/bin/true')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=MTA')dnl
MCEOF
		printf '%s\n' "${SM_MC_EXTRA:-dnl}"
		contrib_paths "$MXPORT_SRCDIR/contrib/sendmail/mxport.mc"
		printf 'MAILER(`local'"'"')dnl\nMAILER(`smtp'"'"')dnl\n'
	} >"$SM/sendmail.mc"
	m4 "$SM/sendmail.mc" >"$SM/sendmail.cf" 2>"$SM/m4.log" ||
		{ cat "$SM/m4.log"; echo "Bail out! m4 could not build sendmail.cf"; exit 99; }
	# Postmaster's copies of errors go nowhere, but must have somewhere to go.
	printf 'postmaster: root\nMAILER-DAEMON: root\nroot: /dev/null\n' >"$SM/aliases"
	sm_exec -bi >"$SM/newaliases.log" 2>&1 ||
		{ cat "$SM/newaliases.log"; echo "Bail out! newaliases failed"; exit 99; }
	# Not through sm_exec: a function in the background is a subshell, and
	# $! must be the process that becomes sendmail, or stopping it leaks it.
	unshare -u sh -c 'hostname relay.test && exec "$0" "$@"' "$SM/sendmail" -C "$SM/sendmail.cf" \
		-bD -q2s -X "$SM/traffic.log" >"$SM/daemon.log" 2>&1 &
	SM_PID=$!
	T_PIDS="$T_PIDS $SM_PID"
	wait_for "sendmail on port $SM_PORT" python3 -c "import socket; socket.create_connection(('127.0.0.1', $SM_PORT)).close()"
}

# sm_queue_count - messages in Sendmail's queue
sm_queue_count() {
	ls "$SM/queue" 2>/dev/null | grep -c '^qf'
}

# sm_queue_run - one queue run now, in the foreground
sm_queue_run() {
	sm_exec -q >>"$SM/queuerun.log" 2>&1
}

# send_sm FROM RCPT[,RCPT...] [FILE] - one message by SMTP to the Sendmail relay
send_sm() {
	# from 127.0.0.3: Sendmail lets its own addresses (127.0.0.1) relay anywhere
	SENDMSG_SOURCE=127.0.0.3 python3 "$MXPORT_SRCDIR/tests/lib/sendmsg.py" 127.0.0.1 "$SM_PORT" "$@"
}
