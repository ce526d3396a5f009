#!/bin/sh
# test_milter_reload_race - a reload that comes while the routes file is being
# rewritten in place (an editor's truncation, then its write, 20 ms later)
# does not put the empty file in force: the socketmap still forwards the
# file's domains afterwards (before, the reload read the empty file, a good
# one, and every forwarded domain was refused until the next reload). Three
# rounds.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix postmap

PF_PORT=$(free_port)
setup_mxport "race.example [127.0.0.1]:2525
other.example [127.0.0.1]:2526"
start_milter
MAP="socketmap:unix:$T_DIR/run/socketmap.sock:relay"
# postmap reads a main.cf: a private, empty one (the system's is left alone)
mkdir -p "$T_DIR/pfetc"
echo "compatibility_level = 3.6" >"$T_DIR/pfetc/main.cf"
postmap() {
	command postmap -c "$T_DIR/pfetc" "$@"
}
t_ok "$(postmap -q race.example "$MAP" >/dev/null; echo $?)" "the socketmap forwards race.example"

for round in 1 2 3; do
	n=$(milter_reloads)
	python3 - "$T_DIR/etc/routes" "$MILTER_PID" <<'PY'
import os, signal, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
text = open(path).read()
f = open(path, "w")           # truncated: the file is empty now
f.flush()
os.kill(pid, signal.SIGHUP)   # the reload comes in the middle of the edit
time.sleep(0.02)
f.write(text)                 # the editor's write
f.close()
PY
	wait_until 10 milter_reloads_above "$n"
	t_ok $? "round $round: the reload put a configuration in force"
	t_ok "$(postmap -q race.example "$MAP" >/dev/null; echo $?)" "round $round: race.example is still forwarded (the half-written file was not taken)"
	t_ok "$(postmap -q other.example "$MAP" >/dev/null; echo $?)" "round $round: other.example too"
done
t_done
