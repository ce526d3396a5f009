# transport.sh - one configuration writer and one transport runner for the
# tests that run mxport-transport in pipe mode. Source after harness.sh.
# Sets TRANSPORT (the program) and LOG (its log file, writable by the
# unprivileged user the transport runs as).

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"

# The lines every configuration of a script gets, before the call's own;
# a script sets CONF_DEFAULTS (one setting a line) before calling conf.
CONF_DEFAULTS=${CONF_DEFAULTS:-}

# write_conf FILE LINE... - a configuration file: log_file, CONF_DEFAULTS,
# then each LINE; readable by the transport's user
write_conf() {
	file=$1
	shift
	{
		echo "log_file = $LOG"
		[ -n "$CONF_DEFAULTS" ] && printf '%s\n' "$CONF_DEFAULTS"
		for line in "$@"; do echo "$line"; done
	} >"$file"
	chmod 644 "$file"
}

# conf NAME ROUTES [LINE...] - $T_DIR/NAME.routes holding ROUTES and
# $T_DIR/NAME.conf naming it; CONF is the configuration's path
conf() {
	name=$1
	printf '%s\n' "$2" >"$T_DIR/$name.routes"
	chmod 644 "$T_DIR/$name.routes"
	shift 2
	CONF="$T_DIR/$name.conf"
	write_conf "$CONF" "routes_file = $T_DIR/$name.routes" "$@"
}

# run_transport QUEUEID SENDER MSGFILE RCPT... - one delivery by the transport with
# configuration $CONF, as an unprivileged user; RC is its exit status, OUT
# what it printed
run_transport() {
	qid=$1
	sender=$2
	msgf=$3
	shift 3
	as_user "$TRANSPORT" -c "$CONF" -q "$qid" -f "$sender" -- "$@" <"$msgf" >"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}

# notices_settle [SECONDS] - until no transport run of this test is handing
# a notice to sendmail(1) (off the delivery path, a process that outlives
# its run), for SECONDS (30) at most
notices_settle() {
	n_=0
	while pgrep -f "mxport-transport -c $T_DIR/[^ ]* -q" >/dev/null &&
		[ $n_ -lt $((${1:-30} * 10)) ]; do
		sleep 0.1
		n_=$((n_ + 1))
	done
}

# notice_sink - $T_DIR/sendmail, a stand-in for sendmail(1) that keeps each
# notice it is handed (its arguments and standard input) as a file in
# $NOTICES, put in place by rename (a count never sees half a notice). With
# $T_DIR/sendmail.fail it fails as sendmail does without queue space; with
# $T_DIR/sendmail.slow it takes 20 s first.
notice_sink() {
	cat >"$T_DIR/sendmail" <<EOF
#!/bin/sh
if [ -e "$T_DIR/sendmail.slow" ]; then sleep 20; fi
if [ -e "$T_DIR/sendmail.fail" ]; then echo "sendmail: fatal: no queue space" >&2; exit 75; fi
tmp=\$(mktemp "$NOTICES/.tmp.XXXXXX") || exit 75
{ printf 'ARGS:'; printf ' %s' "\$@"; printf '\n'; cat; } >"\$tmp" || exit 75
mv "\$tmp" "$NOTICES/notice.\$(date +%s%N).\$\$.eml"
EOF
	chmod 755 "$T_DIR/sendmail"
}
