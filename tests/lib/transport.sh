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
