#!/bin/sh
# test_init_status - the init scripts' `status` tells the truth (issue 17,
# supervision): made from the systemd units by debian/mkinit.sh as the
# package does, with the daemon and pid file pointed into the test's
# folder. Running: 0; the daemon died and left its pid file: 1, "died";
# no pid file: 3; a pid file whose pid now belongs to another program
# (reused after a crash): not "running" (status_of_proc said it was).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need start-stop-daemon sleep
[ -r /lib/lsb/init-functions ] || { echo "Bail out! /lib/lsb/init-functions not found (lsb-base)"; exit 99; }

cp "$(command -v sleep)" "$T_DIR/fake-daemon"
for u in milter lmtp; do
	sh "$MXPORT_SRCDIR/debian/mkinit.sh" "$MXPORT_SRCDIR/contrib/postfix/mxport-$u.service" \
		"$MXPORT_SRCDIR/debian/mxport-$u.init.in" |
		sed -e "s|^DAEMON=.*|DAEMON=$T_DIR/fake-daemon|" -e "s|^PIDFILE=.*|PIDFILE=$T_DIR/$u.pid|" \
			>"$T_DIR/init.$u"
	S="$T_DIR/init.$u"

	sh "$S" status >"$T_DIR/st.$u.none" 2>&1
	t_eq $? 3 "$u: no pid file: status 3 (not running)"

	"$T_DIR/fake-daemon" 300 &
	pid=$!
	echo "$pid" >"$T_DIR/$u.pid"
	sh "$S" status >"$T_DIR/st.$u.run" 2>&1
	t_eq $? 0 "$u: the daemon runs: status 0"
	t_grep "$T_DIR/st.$u.run" "running \(pid $pid\)" "... and names its pid"

	kill "$pid"
	wait "$pid" 2>/dev/null
	sh "$S" status >"$T_DIR/st.$u.dead" 2>&1
	t_eq $? 1 "$u: the daemon died, its pid file remains: status 1"
	t_grep "$T_DIR/st.$u.dead" "not running, but its pid file" "... saying so"

	# the pid taken by another program: this shell's own
	echo "$$" >"$T_DIR/$u.pid"
	sh "$S" status >"$T_DIR/st.$u.other" 2>&1
	rc=$?
	[ "$rc" -ne 0 ]
	t_ok $? "$u: the pid file names another program: not running (status $rc)"
	rm -f "$T_DIR/$u.pid"
done

# The LMTP daemon's arguments: the unit's ARGS (Postfix's socket), which
# /etc/default/mxport-lmtp overrides for the unit and the init script alike
# (mxport-setup exim writes it); its groups are the user's own, so that the
# unit starts on a host without group postfix (Exim's).
t_grep "$T_DIR/init.lmtp" '^ARGS="-c /etc/mxport/mxport\.conf -L unix:/var/spool/postfix/mxport/lmtp\.sock"$' "lmtp init script: the unit's ARGS, Postfix's socket by default"
t_grep "$T_DIR/init.lmtp" '^\[ -r /etc/default/mxport-lmtp \] && \. /etc/default/mxport-lmtp$' "... which /etc/default/mxport-lmtp may override"
f="$MXPORT_SRCDIR/contrib/postfix/mxport-lmtp.service"
t_grep "$f" '^EnvironmentFile=-/etc/default/mxport-lmtp$' "mxport-lmtp.service reads /etc/default/mxport-lmtp too"
t_grep "$f" '^ExecStart=[^ ]*/mxport-transport \$ARGS$' "... and starts the daemon with its ARGS"
t_nogrep "$f" '^SupplementaryGroups=' "mxport-lmtp.service: no SupplementaryGroups= (a missing group, postfix on Exim's host, would stop the unit)"

# the systemd units restart a daemon that dies, within a limit
for u in milter lmtp; do
	f="$MXPORT_SRCDIR/contrib/postfix/mxport-$u.service"
	t_grep "$f" "^Restart=on-failure$" "mxport-$u.service: Restart=on-failure"
	t_grep "$f" "^RestartSec=" "... with RestartSec"
	t_grep "$f" "^StartLimitIntervalSec=[0-9]+$" "... and a start limit (interval)"
	t_grep "$f" "^StartLimitBurst=[0-9]+$" "... (burst)"
done

t_done
