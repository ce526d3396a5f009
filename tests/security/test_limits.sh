#!/bin/sh
# test_limits - 300 clients that connect and send nothing cannot take the
# socketmap or the LMTP front away from the MTA: the socketmap keeps at most
# socketmap_max_clients threads (closing the longest idle connection to make
# room) and still answers a real query at once; the LMTP daemon keeps at
# most lmtp_max_clients processes, a session already open goes on
# undisturbed, silent clients are dropped after lmtp_idle_timeout, and a
# real session is served once the flood is gone. Counts come from /proc.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 setpriv

# run as other users: a copy in T_DIR (t_share), reachable wherever the clone is
PROBE=$(t_share "$MXPORT_SRCDIR/tests/lib/sockprobe.py")
PY=/usr/bin/python3 # the system python: user postfix cannot reach root's own (pyenv)
need "$PY"
RUN="$T_DIR/run"

as_postfix() {
	setpriv --reuid=postfix --regid=postfix --init-groups -- "$@"
}

# threads PID - how many threads the process has
threads() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# children PID - how many processes have PID as their parent
children() {
	grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | wc -l
}

# flood SOCKET N HOLD OUT - N silent connections as user postfix, in the
# background, their story in OUT; sets FLOOD_PID
flood() {
	# setpriv itself, not as_postfix: $! must be the flood's own pid
	setpriv --reuid=postfix --regid=postfix --init-groups -- \
		"$PY" "$PROBE" flood "$1" "$2" "$3" >"$4" 2>&1 &
	FLOOD_PID=$!
	wait_for "the flood on $1" grep -q '^connected' "$4"
}

# closed OUT - how many flood connections the server has closed so far
closed() {
	awk '$1 == "closed" { n = $2 } END { print n + 0 }' "$1"
}
closed_at_least() {
	[ "$(closed "$1")" -ge "$2" ]
}

MXPORT_EXTRA_CONF="socketmap_max_clients = 20
socketmap_idle_timeout = 3s
lmtp_max_clients = 5
lmtp_idle_timeout = 2s
lmtp_process_idle_time = 1s"
setup_mxport "example.com [127.0.0.1]:9"
start_milter
start_lmtp
LMTP_PID=$(echo $T_PIDS | awk '{ print $NF }')

# 1. socketmap: 300 silent clients
sleep 0.5
base=$(threads "$MILTER_PID")
flood "$RUN/socketmap.sock" 300 30 "$T_DIR/flood.map"
t_eq "$(awk '$1 == "connected" { print $2 }' "$T_DIR/flood.map")" 300 "1: socketmap: 300 silent clients connected"
wait_until 10 closed_at_least "$T_DIR/flood.map" 280
t_ok "$([ "$(closed "$T_DIR/flood.map")" -ge 280 ]; echo $?)" "1: the 280 longest idle were closed to make room"
start=$(now_ms)
answer=$(as_postfix "$PY" "$PROBE" socketmap "$RUN/socketmap.sock" relay example.com)
took=$(($(now_ms) - start))
t_eq "$answer" "OK forwarded" "1: a real query during the flood is answered ($took ms)"
t_ok "$([ "$took" -lt 2000 ]; echo $?)" "1: ... at once, not after the idle timeout"
most=$(threads "$MILTER_PID")
t_ok "$([ "$most" -le $((base + 20)) ]; echo $?)" \
	"1: threads bounded by socketmap_max_clients ($base before, $most during)"
t_grep "$MXLOG" "socketmap: 20 connections \\(socketmap_max_clients\\): closing the longest idle" \
	"1: ... and that is logged"
wait_until 10 closed_at_least "$T_DIR/flood.map" 300
t_eq "$(closed "$T_DIR/flood.map")" 300 "1: the rest closed after socketmap_idle_timeout"
threads_are() {
	[ "$(threads "$MILTER_PID")" -eq "$1" ]
}
wait_until 5 threads_are "$base"
t_eq "$(threads "$MILTER_PID")" "$base" "1: back to $base threads"
kill "$FLOOD_PID" 2>/dev/null

# A request sent a byte at a time does not keep a connection past the timeout.
start=$(now_ms)
as_postfix "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    for b in b"30:relay example.com":
        s.send(bytes([b])); time.sleep(0.3)
    print("not closed")
except OSError:
    print("closed")
' "$RUN/socketmap.sock" >"$T_DIR/drip.out" 2>&1
t_eq "$(cat "$T_DIR/drip.out")" closed "1: a request dripped byte by byte is cut off"
took=$(($(now_ms) - start))
t_ok "$([ "$took" -lt 5500 ]; echo $?)" "1: ... after about socketmap_idle_timeout ($took ms)"

# 2. LMTP: a session open before the flood, then 300 silent clients
as_postfix "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
s.sendall(b"LHLO relay.test\r\n")
while True:
    line = f.readline().decode()
    if line[3:4] != "-": break
time.sleep(1.0)     # the flood arrives meanwhile
s.sendall(b"NOOP\r\n"); print(f.readline().decode().strip(), flush=True)
s.sendall(b"QUIT\r\n"); print(f.readline().decode().strip(), flush=True)
' "$RUN/lmtp.sock" >"$T_DIR/early.out" 2>&1 &
EARLY=$!
wait_for "the early LMTP session" grep -q '^220' "$T_DIR/early.out"
flood "$RUN/lmtp.sock" 300 60 "$T_DIR/flood.lmtp"
t_eq "$(awk '$1 == "connected" { print $2 }' "$T_DIR/flood.lmtp")" 300 "2: LMTP: 300 silent clients connected (most in the listen queue)"
sleep 0.5
most=$(children "$LMTP_PID")
t_ok "$([ "$most" -le 5 ]; echo $?)" "2: LMTP processes bounded by lmtp_max_clients ($most)"
wait "$EARLY"
t_eq "$(sed -n 2p "$T_DIR/early.out")" "250 2.0.0 Ok" "2: the session open before the flood goes on undisturbed"
t_grep "$T_DIR/early.out" "^221 " "2: ... to its QUIT"
t_grep "$MXLOG" "lmtp: 5 connections \\(lmtp_max_clients\\): new ones wait" "2: the limit is logged"
wait_until 6 closed_at_least "$T_DIR/flood.lmtp" 5
t_ok "$([ "$(closed "$T_DIR/flood.lmtp")" -ge 5 ]; echo $?)" \
	"2: silent clients are dropped after lmtp_idle_timeout ($(closed "$T_DIR/flood.lmtp") so far)"
t_ok "$([ "$(children "$LMTP_PID")" -le 5 ]; echo $?)" "2: ... and the bound holds"
kill "$FLOOD_PID" 2>/dev/null
wait "$FLOOD_PID" 2>/dev/null
start=$(now_ms)
as_postfix "$PY" "$PROBE" lmtp "$RUN/lmtp.sock" "LHLO relay.test" QUIT >"$T_DIR/late.out" 2>&1
t_grep "$T_DIR/late.out" "^221 " "2: flood gone: a real session is served ($(($(now_ms) - start)) ms)"
at_most_children() {
	[ "$(children "$LMTP_PID")" -le "$1" ]
}
wait_until 5 at_most_children 0
t_ok "$([ "$(children "$LMTP_PID")" -le 0 ]; echo $?)" "2: ... and the flood's processes are gone (after lmtp_process_idle_time)"

# 3. LMTP on standard input (a Sendmail mailer, -L -): a silent client is
# dropped after lmtp_idle_timeout too, not when its pipe finally closes
start=$(now_ms)
sleep 20 | setpriv --reuid=mxport --regid=mxport --clear-groups -- \
	"$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -L - >"$T_DIR/stdin.out" 2>&1 &
SILENT=$!
i=0
while kill -0 "$SILENT" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
took=$(($(now_ms) - start))
t_ok "$([ "$took" -lt 8000 ]; echo $?)" "3: -L -: a silent client on stdin is dropped after lmtp_idle_timeout ($took ms)"
t_grep "$T_DIR/stdin.out" "^220 " "3: ... after its greeting"

t_done
