#!/bin/sh
# test_pidfile - mxport-milter's pid file: written as root into a run
# directory that its own user (mxport) can write, so that user can plant
# links there. A symbolic or hard link planted at the pid file's path is
# removed, never followed (the file it points to is unchanged), and the pid
# file and the sockets are gone after SIGTERM, as mxport-milter(8) says.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 stat

RUN="$T_DIR/run"
PIDF="$RUN/milter.pid"
VICTIM="$T_DIR/victim"

# milter_up - start the milter as root with -u mxport and the pid file
started() {
	grep -c "started: milter" "$T_DIR/milter.stderr"
}
started_above() {
	[ "$(started)" -gt "$1" ]
}
milter_up() {
	n=$(started)
	"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport -P "$PIDF" \
		>>"$T_DIR/milter.stderr" 2>&1 &
	MILTER_PID=$!
	wait_for "the pid file" grep -qx "$MILTER_PID" "$PIDF"
	wait_for "mxport-milter" test -S "$RUN/socketmap.sock"
	# up and running (privileges dropped, signals in libmilter's hands)
	wait_until 20 started_above "$n"
}

# milter_down - SIGTERM, and wait for the process to end
milter_down() {
	kill "$MILTER_PID"
	wait "$MILTER_PID"
	STATUS=$?
	MILTER_PID=
}

setup_mxport "example.com [127.0.0.1]:9"
: >"$T_DIR/milter.stderr"
chown mxport "$RUN" # the service user's own run directory
printf 'root only\n' >"$VICTIM"
chmod 600 "$VICTIM"

# 1. a symbolic link planted by user mxport
setpriv --reuid=mxport --regid=mxport --clear-groups -- ln -s "$VICTIM" "$PIDF"
milter_up
t_eq "$(cat "$VICTIM")" "root only" "1: planted symlink: its target is unchanged"
t_ok "$(test ! -L "$PIDF"; echo $?)" "1: ... the link is gone"
t_eq "$(stat -c '%U %F' "$PIDF")" "root regular file" "1: ... a regular pid file of root's is there"
t_eq "$(cat "$PIDF")" "$MILTER_PID" "1: ... holding the milter's pid"
t_grep "$T_DIR/milter.stderr" "pid file $PIDF: removing what was there \\(a symbolic link, owner uid $(id -u mxport)" \
	"1: ... and the milter says what it removed"
milter_down
t_eq "$STATUS" 0 "2: SIGTERM: a clean stop"
t_ok "$(test ! -e "$PIDF"; echo $?)" "2: the pid file is gone after SIGTERM"
t_ok "$(test ! -e "$RUN/milter.sock" && test ! -e "$RUN/socketmap.sock"; echo $?)" \
	"2: ... and so are the sockets"

# 3. a hard link to a root-only file (as if protected_hardlinks were off)
ln "$VICTIM" "$PIDF"
milter_up
t_eq "$(cat "$VICTIM")" "root only" "3: planted hard link: the file is unchanged"
t_eq "$(stat -c '%h' "$VICTIM")" 1 "3: ... and no longer linked there"
t_eq "$(cat "$PIDF")" "$MILTER_PID" "3: ... the pid file holds the pid"
milter_down
t_ok "$(test ! -e "$PIDF"; echo $?)" "3: the pid file is gone after SIGTERM"

# 4. a stale pid file of its own is simply replaced, without a warning
milter_up
kill -9 "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
: >"$T_DIR/milter.stderr"
milter_up
t_eq "$(cat "$PIDF")" "$MILTER_PID" "4: stale pid file after a crash: replaced"
t_nogrep "$T_DIR/milter.stderr" "removing what was there" "4: ... quietly"
t_grep "$T_DIR/milter.stderr" "started: milter unix:$RUN/milter.sock" "4: ... and the stale sockets replaced"
milter_down

# 5. a directory in the way: refused, nothing else touched
mkdir "$PIDF"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport -P "$PIDF" >"$T_DIR/dir.out" 2>&1
t_eq $? 73 "5: a directory at the pid file's path: refused (73)"
t_grep "$T_DIR/dir.out" "pid file $PIDF: cannot remove what is there" "5: ... saying why"
rmdir "$PIDF"

t_done
