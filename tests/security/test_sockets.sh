#!/bin/sh
# test_sockets - mxport's local sockets are reachable by the MTA's user only:
# the milter socket, the socketmap socket and the LMTP socket get
# socket_owner / socket_group / socket_mode (default: the user mxport runs
# as, group postfix, 0660), so a local user (nobody) gets EACCES where user
# postfix gets through. A path that holds something else, or a socket
# another process listens on, is never replaced. The milter started as root
# runs as milter_user, never as root.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 setpriv stat

# run as other users: a copy in T_DIR (t_share), reachable wherever the clone is
PROBE=$(t_share "$MXPORT_SRCDIR/tests/lib/sockprobe.py")
# the system python: the users under test cannot reach root's own (pyenv)
PY=/usr/bin/python3
need "$PY"
RUN="$T_DIR/run"

# as NAME CMD... - run as user NAME with its own groups (nobody: none)
as() {
	u=$1
	shift
	if [ "$u" = nobody ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
	else
		setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"
	fi
}

# probe USER SOCKET - what USER gets when it connects
probe() {
	as "$1" "$PY" "$PROBE" connect "$2" 2>&1
}

perms() {
	stat -c '%U:%G %a' "$1"
}

ensure_user postfix
setup_mxport "example.com [127.0.0.1]:9"
start_milter
start_lmtp

# 1. owner, group and mode
for s in milter socketmap lmtp; do
	t_eq "$(perms "$RUN/$s.sock")" "mxport:postfix 660" "1: $s socket: mxport:postfix, mode 0660"
done

# 2. nobody is refused by the kernel; postfix, the MTA's user, gets through
for s in milter socketmap lmtp; do
	t_eq "$(probe nobody "$RUN/$s.sock")" EACCES "2: $s socket: user nobody gets EACCES"
	t_eq "$(probe postfix "$RUN/$s.sock")" ok "2: $s socket: user postfix connects"
done
t_eq "$(as postfix "$PY" "$PROBE" socketmap "$RUN/socketmap.sock" relay example.com)" \
	"OK forwarded" "2: postfix gets socketmap answers"
as postfix "$PY" "$PROBE" lmtp "$RUN/lmtp.sock" "LHLO relay.test" QUIT >"$T_DIR/lmtp.out" 2>&1
t_grep "$T_DIR/lmtp.out" "^220 .*LMTP" "2: postfix gets the LMTP greeting"
t_grep "$T_DIR/lmtp.out" "^221 " "2: ... and a whole LMTP session"

# 3. the milter runs as milter_user (mxport), not root; its threads too
MX_UID=$(id -u mxport)
# real_uid_is UID - the milter has dropped to UID (it opens its sockets first)
real_uid_is() {
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$MILTER_PID/status")" = "$1" ]
}
wait_until 10 real_uid_is "$MX_UID"
t_eq "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$MILTER_PID/status")" \
	"$MX_UID $MX_UID $MX_UID $MX_UID" "3: milter started as root with -u mxport runs as mxport"
stop_milter

# Started as root without -u: milter_user (default mxport) is taken, never root.
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" >>"$T_DIR/milter.stderr" 2>&1 &
MILTER_PID=$!
wait_for "mxport-milter without -u" test -S "$RUN/milter.sock"
wait_until 10 real_uid_is "$MX_UID"
t_eq "$(awk '/^Uid:/ { print $2 }' "/proc/$MILTER_PID/status")" "$MX_UID" \
	"3: started as root without -u: runs as milter_user mxport"
t_eq "$(perms "$RUN/socketmap.sock")" "mxport:postfix 660" "3: ... and its sockets are mxport's"
stop_milter

cp "$T_DIR/etc/mxport.conf" "$T_DIR/etc/root.conf"
echo "milter_user = root" >>"$T_DIR/etc/root.conf"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/root.conf" >"$T_DIR/root.out" 2>&1
t_eq $? 78 "3: milter_user = root: refused (78)"
t_grep "$T_DIR/root.out" "milter_user = root: mxport-milter does not run as root" "3: ... saying why"
"$T_DIR/bin/mxport-milter" -n -c "$T_DIR/etc/root.conf" >"$T_DIR/root.out" 2>&1
t_eq $? 78 "3: ... and -n says so before a start"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u root >"$T_DIR/root.out" 2>&1
t_eq $? 78 "3: -u root: refused"
t_nogrep "$T_DIR/root.out" "running as root" "3: no 'running as root' warning: it does not"

cp "$T_DIR/etc/mxport.conf" "$T_DIR/etc/nogroup.conf"
echo "socket_group = no-such-group-here" >>"$T_DIR/etc/nogroup.conf"
"$T_DIR/bin/mxport-milter" -n -c "$T_DIR/etc/nogroup.conf" >"$T_DIR/nogroup.out" 2>&1
t_eq $? 78 "3: -n: an unknown socket_group is a configuration error"
t_grep "$T_DIR/nogroup.out" "socket_group = no-such-group-here: no such group" "3: ... naming the key"

# 4. socket_owner, socket_group, socket_mode are the admin's
cp "$T_DIR/etc/mxport.conf" "$T_DIR/etc/own.conf"
printf 'socket_owner = nobody\nsocket_group = nogroup\nsocket_mode = 0600\n' >>"$T_DIR/etc/own.conf"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/own.conf" -u mxport >>"$T_DIR/milter.stderr" 2>&1 &
MILTER_PID=$!
wait_for "mxport-milter with socket_owner" test -S "$RUN/socketmap.sock"
t_eq "$(perms "$RUN/milter.sock")" "nobody:nogroup 600" "4: socket_owner/group/mode set the milter socket"
t_eq "$(perms "$RUN/socketmap.sock")" "nobody:nogroup 600" "4: ... and the socketmap socket"
t_eq "$(probe nobody "$RUN/socketmap.sock")" ok "4: ... and its owner connects"
t_eq "$(probe postfix "$RUN/socketmap.sock")" EACCES "4: ... and no one else"

# 5. another milter on the same sockets: refused, the running one untouched
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport >"$T_DIR/second.out" 2>&1
t_eq $? 69 "5: a second milter on a socket in use: refused (69)"
t_grep "$T_DIR/second.out" "milter.sock: another process listens there" "5: ... saying why"
t_eq "$(probe nobody "$RUN/socketmap.sock")" ok "5: the first one still serves its socket"
stop_milter

# 6. a path that holds a file (a typo, or a trap) is not replaced
echo precious >"$RUN/socketmap.sock"
"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport >"$T_DIR/file.out" 2>&1
t_eq $? 69 "6: socketmap_socket names a regular file: refused"
t_grep "$T_DIR/file.out" "socketmap.sock: exists and is not a socket; not replaced" "6: ... saying why"
t_eq "$(cat "$RUN/socketmap.sock")" precious "6: ... and the file is intact"
t_eq "$(ls -a "$RUN" | grep -c '^\.mxport-')" 0 "6: no private directory left behind"
rm -f "$RUN/socketmap.sock"

# 7. the LMTP daemon not in socket_group: refused with a clear error
setpriv --reuid=mxport --regid=mxport --clear-groups -- "$T_DIR/bin/mxport-transport" \
	-c "$T_DIR/etc/mxport.conf" -L "unix:$RUN/lmtp2.sock" >"$T_DIR/lmtp2.out" 2>&1
t_eq $? 78 "7: LMTP daemon outside group postfix: refused (78)"
t_grep "$T_DIR/lmtp2.out" "socket_group = postfix: this process \\(uid [0-9]+\\) is not in that group" \
	"7: ... naming the key"
t_ok "$(test ! -e "$RUN/lmtp2.sock"; echo $?)" "7: ... and no socket made"

t_done
