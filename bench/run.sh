#!/bin/sh
# bench/run.sh - mxport's cost, measured against baselines in the same run:
#   1. relay throughput: smtp-source -> private Postfix -> (a) Postfix's own
#      smtp(8) to smtp-sink, (b) the mxport path (milter, FILTER, pipe,
#      mxport-transport) to smtp-sink, (c) smtp-source straight to smtp-sink
#   2. milter overhead: receive-only throughput with and without the milter
#   3. milter memory: resident size idle and with 500 SMTP sessions open
#   4. CPU per message: callgrind instruction counts of one transport run
# Prints numbers and ratios; fails only when something does not work, never
# on speed. Usage: bench/run.sh [MESSAGES]   (default 2000; run as root)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000}
SESSIONS=20
SIZE=4096
MXPORT_BUILDDIR=${MXPORT_BUILDDIR:-$top}
MXPORT_SRCDIR=$top
export MXPORT_BUILDDIR MXPORT_SRCDIR
[ -x "$MXPORT_BUILDDIR/mxport-transport" ] || { echo "build mxport first (./configure && make)"; exit 1; }
. "$top/tests/lib/harness.sh"
. "$top/tests/lib/postfix.sh"
need smtp-source smtp-sink valgrind python3 postconf

say() { printf '%s\n' "$*"; }
# rate N MS - messages per second
rate() { python3 -c "print('%.0f' % ($1 * 1000.0 / max($2, 1)))"; }
ratio() { python3 -c "print('%.2f' % ($1 / max($2, 1e-9)))"; }
sent_lines() { grep -c "status=sent" "$PF/maillog" 2>/dev/null; }
wait_sent() { # wait_sent TARGET - until the maillog has TARGET sent lines
	while [ "$(sent_lines)" -lt "$1" ]; do sleep 0.05; done
}

SINK_PORT=$(free_port)
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 512 >/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for smtp-sink python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT)).close()"

PF_PORT=$(free_port)
setup_mxport "bench.example [127.0.0.1]:$SINK_PORT"
sed -i 's/^log_file = .*/log_file =/' "$T_DIR/etc/mxport.conf" # syslog only, as in production
start_milter
start_postfix "$(free_port)"
postconf -c "$PF/etc" -e default_process_limit=600 smtpd_client_connection_count_limit=0 \
	maillog_file_rotate_suffix=x >/dev/null
BASE_TRANSPORT=$(postconf -c "$PF/etc" -h transport_maps)
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1

say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(postconf -d -h mail_version | sed 's/^/Postfix /')"
say "messages: $N of about $SIZE bytes, one recipient, $SESSIONS parallel sessions"
say ""

# --- 1c. ceiling: straight to the sink -----------------------------------------
t0=$(now_ms)
smtp-source -s $SESSIONS -l $SIZE -m "$N" -f bench@sender.test -t rcpt@bench.example "127.0.0.1:$SINK_PORT"
ceiling_ms=$(($(now_ms) - t0))

# timed_pass deliver|hold - reload Postfix, send N messages with smtp-source
# and print the milliseconds until all are delivered (deliver), or until all
# are received (hold: deliveries deferred; the queue is emptied afterwards)
timed_pass() {
	postfix -c "$PF/etc" reload >/dev/null 2>&1
	sleep 1
	before=$(sent_lines)
	t0=$(now_ms)
	smtp-source -s $SESSIONS -l $SIZE -m "$N" -f bench@sender.test -t rcpt@bench.example \
		"127.0.0.1:$PF_PORT" >&2
	[ "$1" = deliver ] && wait_sent $((before + N))
	echo $(($(now_ms) - t0))
	[ "$1" = hold ] && postsuper -c "$PF/etc" -d ALL >/dev/null 2>&1
	return 0
}

# --- 1a. Postfix's own smtp(8) to [127.0.0.1]:port, no milter -------------------
postconf -c "$PF/etc" -e "smtpd_milters=" "relay_domains=bench.example" \
	"transport_maps=inline:{ {bench.example = smtp:[127.0.0.1]:$SINK_PORT} }, $BASE_TRANSPORT" >/dev/null
native_ms=$(timed_pass deliver)

# --- 2a. receive only, no milter (deliveries held) ---------------------------------
postconf -c "$PF/etc" -e "defer_transports=smtp, mxport, relay" >/dev/null
recv_plain_ms=$(timed_pass hold)

# --- back to contrib/postfix as it is: the mxport path --------------------------
cp "$PF/etc/main.cf" "$PF/etc/main.cf.bench"
postconf -c "$PF/etc" -e "defer_transports=" \
	"smtpd_milters=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^smtpd_milters = //p')" \
	"relay_domains=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^relay_domains = //p')" \
	"transport_maps=$BASE_TRANSPORT" >/dev/null

# --- 2a'. receive only, the socketmap relay check without the milter ----------------
milter_line=$(postconf -c "$PF/etc" -h smtpd_milters)
postconf -c "$PF/etc" -e "defer_transports=smtp, mxport, relay" "smtpd_milters=" >/dev/null
recv_map_ms=$(timed_pass hold)

# --- 2b. receive only, with the milter -----------------------------------------------
# cpu_ms PID - user + system CPU time the process has used, in ms
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }
postconf -c "$PF/etc" -e "smtpd_milters=$milter_line" >/dev/null
milter_cpu0=$(cpu_ms "$MILTER_PID")
recv_milter_ms=$(timed_pass hold)
milter_cpu=$(($(cpu_ms "$MILTER_PID") - milter_cpu0))

# --- 1b. the mxport path ----------------------------------------------------------------
postconf -c "$PF/etc" -e "defer_transports=" >/dev/null
mxport_ms=$(timed_pass deliver)

# --- 1b'. the mxport path over LMTP (contrib/postfix/lmtp) ------------------------------
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/master.cf" >>"$PF/etc/master.cf"
start_lmtp
lmtp_ms=$(timed_pass deliver)

# --- 1b''. no milter: relay check and transport_maps ask the socketmap (transport-maps/) -----
sed -i '/^postfix_transport/d' "$T_DIR/etc/mxport.conf"
echo "postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock" >>"$T_DIR/etc/mxport.conf"
hup_milter
postconf -c "$PF/etc" -e "smtpd_milters=" \
	"transport_maps=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/transport-maps/main.cf" | sed -n 's/^transport_maps = //p'), $BASE_TRANSPORT" >/dev/null
tmaps_ms=$(timed_pass deliver)
# back to contrib/postfix with the milter, for the memory measurement below
postconf -c "$PF/etc" -e \
	"smtpd_milters=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^smtpd_milters = //p')" \
	"transport_maps=$BASE_TRANSPORT" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1

say "1. relay throughput (messages per second, first send to last delivery)"
say "   (c) smtp-source -> smtp-sink directly:        $(rate "$N" "$ceiling_ms") msg/s  (${ceiling_ms} ms)"
say "   (a) Postfix smtp(8) to [127.0.0.1]:port:      $(rate "$N" "$native_ms") msg/s  (${native_ms} ms)"
say "   (b) mxport path (milter, FILTER, transport):  $(rate "$N" "$mxport_ms") msg/s  (${mxport_ms} ms)"
say "   (b') mxport path over LMTP (lmtp/ variant):  $(rate "$N" "$lmtp_ms") msg/s  (${lmtp_ms} ms)"
say "   (b'') no milter, transport_maps + LMTP:      $(rate "$N" "$tmaps_ms") msg/s  (${tmaps_ms} ms)"
say "   ratio b/a (mxport pipe / Postfix's own):      $(ratio "$native_ms" "$mxport_ms")"
say "   ratio b'/a (mxport LMTP / Postfix's own):     $(ratio "$native_ms" "$lmtp_ms")"
say "   ratio b''/a (no milter, LMTP / Postfix's own): $(ratio "$native_ms" "$tmaps_ms")"
say "   ratio a/c (Postfix / ceiling):                $(ratio "$ceiling_ms" "$native_ms")"
say ""
say "2. milter overhead (receive only, deliveries deferred)"
say "   without milter: $(rate "$N" "$recv_plain_ms") msg/s; with mxport-milter (unix socket): $(rate "$N" "$recv_milter_ms") msg/s"
say "   ratio with/without: $(ratio "$recv_plain_ms" "$recv_milter_ms")  (overhead $(python3 -c "print('%.1f%%' % (100.0 * (1 - $recv_plain_ms / max($recv_milter_ms, 1))))"))"
say "   of which the socketmap relay check alone (no milter): $(rate "$N" "$recv_map_ms") msg/s, ratio $(ratio "$recv_plain_ms" "$recv_map_ms")"
say "   mxport-milter's own CPU: $milter_cpu ms for $N messages ($(python3 -c "print('%.3f' % ($milter_cpu / $N))") ms a message)"
say ""

# --- 3. memory ------------------------------------------------------------------------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
idle_kb=$(rss "$MILTER_PID")
python3 "$MXPORT_SRCDIR/bench/hold_sessions.py" 127.0.0.1 "$PF_PORT" 500 "$T_DIR/hold.ready" &
HOLD=$!
wait_until 120 test -e "$T_DIR/hold.ready"
sleep 1
busy_kb=$(rss "$MILTER_PID")
threads=$(awk '/Threads/ {print $2}' "/proc/$MILTER_PID/status")
fds=$(ls "/proc/$MILTER_PID/fd" | wc -l)
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null
say "3. mxport-milter memory"
say "   idle: $((idle_kb / 1024)) MB resident; with $(cat "$T_DIR/hold.ready") SMTP sessions open in RCPT: $((busy_kb / 1024)) MB resident, $threads threads, $fds open descriptors"
say ""

# --- 4. CPU per message ------------------------------------------------------------------------
make_certs
start_peer plain '{}'
PLAIN_PORT=$PEER_PORT
start_peer tls "{\"tls\": {\"cert\": \"$T_DIR/certs/good.pem\", \"key\": \"$T_DIR/certs/good.key\"}}"
TLS_PORT=$PEER_PORT
printf 'plain.example [127.0.0.1]:%s tls=none\ntls.example [127.0.0.1]:%s tls=encrypt\n' \
	"$PLAIN_PORT" "$TLS_PORT" >"$T_DIR/etc/routes"
python3 -c 'import sys; sys.stdout.write("Subject: bench\r\n\r\n" + ("x" * 76 + "\r\n") * 52)' >"$T_DIR/msg4k"
chmod 644 "$T_DIR/msg4k"
mkdir -p "$T_DIR/cg"
chmod 777 "$T_DIR/cg"
instr() { # instr DOMAIN - instructions of one transport run
	out="$T_DIR/cg/callgrind.$1"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- valgrind --tool=callgrind \
		--callgrind-out-file="$out" "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" \
		-q BENCH -f bench@sender.test -- "rcpt@$1" <"$T_DIR/msg4k" >/dev/null 2>&1
	sed -n 's/^summary: //p' "$out"
}
plain_ir=$(instr plain.example)
tls_ir=$(instr tls.example)
say "4. CPU per message (callgrind, one mxport-transport run, 4 KB message)"
say "   plain SMTP: $plain_ir instructions; STARTTLS: $tls_ir instructions"
