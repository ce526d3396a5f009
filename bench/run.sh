#!/bin/sh
# bench/run.sh - mxport's cost, measured against baselines in the same run:
#   1. relay throughput: smtp-source -> private Postfix -> (a) Postfix's own
#      smtp(8) to smtp-sink, (b) the pipe path (milter, FILTER, pipe,
#      mxport-transport), (b') the LMTP path (milter, FILTER, the LMTP
#      daemon), (b'') the default path as `mxport-setup postfix` writes it
#      (run on this Postfix: no milter, relay_domains and transport_maps
#      from its routes table mxport_routes, lmtp(8) to the LMTP daemon; no
#      socketmap); (c) smtp-source
#      straight to smtp-sink. The paths are interleaved: a, b, b', b'',
#      then the receive passes, then a, b, ... for ROUNDS rounds; each ratio
#      is the median over the rounds with its range.
#   2. milter overhead on receive, on a realistic message (27 header lines:
#      Received chain, DKIM-Signature, ARC-*, List-*, MIME; 4 KB): throughput
#      and CPU per message (user+sys of smtpd, cleanup and the milter)
#   2b. the same on Sendmail: a private Sendmail 8.17 (tests/lib/sendmail.sh)
#      with contrib/sendmail, queue-only, with and without the milter (its
#      socket map in both); CPU per message of the sendmail processes (the
#      daemon and its session children) and the milter
#   3. milter memory: resident size idle and with 500 SMTP sessions open
#   4. transport start-up: callgrind instructions of one pipe-mode run
#   5. the LMTP daemon's CPU per message: callgrind over LMTP_N deliveries
#      through one kept session, divided by LMTP_N; 5b what XFORWARD and an
#      outage contact add; 5c the same per message at 100 KB, 10 MB and 100
#      recipients; 5d what shared_state (memcached) adds to a delivery and
#      to a deferral
#   6. DNS: DNS_N messages to 50 SRV-routed domains through the milter and
#      the transport; the queries the DNS server saw, per name, and (with
#      strace) which process of the LMTP daemon asked what
#   7. verify: receive throughput and CPU per message with recipients
#      verified at RCPT (verify=yes, cache warm: every RCPT a cache hit)
#      against the same route without, through the milter and through the
#      socketmap's verify table; interleaved rounds as in 2
#   8. scale (issue 21): cost per message against the number of routes
#      (10, 100,000, 1,000,000 with the routes index), message size (4 KB,
#      100 KB, 10 MB), recipients per message (1, 10, 100) and TLS (plain,
#      STARTTLS on a kept session, STARTTLS per connection); each row (a)
#      Postfix's own smtp(8), (b'') the default path as mxport-setup writes
#      it (its routes table built from each routes file) and (d) the ceiling,
#      the same Postfix delivering to discard(8), in the same interleaved
#      rounds: b''/a and b''/d with medians, ranges and verdicts, and CPU
#      per message of Postfix's and mxport's processes
# Prints numbers and ratios; fails only when something does not work (every
# wait has a deadline and says what did not arrive), never on speed.
#
# Usage (as root): bench/run.sh [--quick] [--rounds R] [--skip LIST | --only LIST] [MESSAGES]
#   MESSAGES  messages a pass (default 2000; env BENCH_MESSAGES)
#   --rounds  interleaved rounds (default 5; env BENCH_ROUNDS)
#   --quick   a smoke test: 100 messages, 2 rounds, 20 LMTP deliveries
#             under callgrind, 200 DNS messages; scale: 20 messages a pass,
#             10, 1,000 and 10,000 routes
#   --skip    comma-separated sections to leave out: relay (1 and 2),
#             sendmail (2b), memory, startup, lmtp, dns, verify, scale (8)
#   --only    comma-separated sections to run, the others left out
# Env: BENCH_SM_MESSAGES  messages a Sendmail pass (default MESSAGES, at most
#      300: Sendmail forks a process per session and takes about 10 s for
#      100 messages on a loaded machine)
#      BENCH_WAIT  seconds a pass may take before the bench gives up on it
#      (default 60 + MESSAGES/10); MXPORT_BUILDDIR: the build to measure;
#      BENCH_CONF: more mxport.conf lines (e.g. "lmtp_process_idle_time = 0":
#      a process per LMTP connection, as before that key).
#      BENCH_SCALE_MESSAGES  messages a 4 KB pass of section 8 (default
#      MESSAGES; 100 KB passes a quarter, 10 MB a fiftieth, at least 2;
#      10 and 100 recipients a tenth); BENCH_SCALE_ROUTES (default
#      "10 100000 1000000"); BENCH_SCALE_DIMS (default "routes size rcpt tls")
#      BENCH_SETUP_DBTYPE  default_database_type for mxport-setup's routes
#      table of the default path (b''), e.g. cdb (default: Postfix's, hash);
#      BENCH_LMTP_CONCURRENCY  mxport-lmtp_destination_concurrency_limit
#      instead of mxport-setup's (the daemon's lmtp_max_clients, 100)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_MESSAGES:-2000}
ROUNDS=${BENCH_ROUNDS:-5}
LMTP_N=200
DNS_N=2000
DNS_DOMAINS=50
SKIP=""
ONLY=""
QUICK=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) N=100 ROUNDS=2 LMTP_N=20 DNS_N=200 QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--rounds=*) ROUNDS=${1#*=} ;;
	--skip) SKIP=$2; shift ;;
	--skip=*) SKIP=${1#*=} ;;
	--only) ONLY=$2; shift ;;
	--only=*) ONLY=${1#*=} ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	[0-9]*) N=$1 ;;
	*) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$N$ROUNDS" in *[!0-9]*) echo "bench/run.sh: MESSAGES and --rounds take numbers" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$ROUNDS" -ge 1 ] || { echo "bench/run.sh: MESSAGES and --rounds must be at least 1" >&2; exit 2; }
WAIT=${BENCH_WAIT:-$((60 + N / 10))}
SECTIONS="relay sendmail memory startup lmtp dns verify scale"
if [ -n "$ONLY" ]; then
	for s in $(echo "$ONLY" | tr , ' '); do
		case " $SECTIONS " in *" $s "*) ;; *) echo "bench/run.sh: no section '$s' (sections: $SECTIONS)" >&2; exit 2 ;; esac
	done
	for s in $SECTIONS; do
		case ",$ONLY," in *",$s,"*) ;; *) SKIP="$SKIP,$s" ;; esac
	done
fi
SESSIONS=20
MXPORT_BUILDDIR=${MXPORT_BUILDDIR:-$top}
MXPORT_SRCDIR=$top
export MXPORT_BUILDDIR MXPORT_SRCDIR
[ -x "$MXPORT_BUILDDIR/mxport-transport" ] || { echo "build mxport first (./configure && make), or set MXPORT_BUILDDIR"; exit 1; }
. "$top/tests/lib/harness.sh"
. "$top/tests/lib/postfix.sh"
. "$top/tests/lib/sendmail.sh"
# a closed output (bench/run.sh | head) must still stop every server started
trap 'exit 1' INT TERM HUP PIPE
need smtp-source smtp-sink valgrind callgrind_annotate python3 postconf nsd drill timeout

skipped() { case ",$SKIP," in *",$1,"*) return 0 ;; esac; return 1; }
say() { printf '%s\n' "$*"; }
# die WHAT - the bench cannot go on: say what did not work, with the log tail
die() {
	say "bench: $*" >&2
	[ -f "$PF/maillog" ] && { say "bench: the last lines of Postfix's log:" >&2; tail -n 15 "$PF/maillog" | sed 's/^/bench:   /' >&2; }
	exit 1
}
log_size() { wc -c <"$PF/maillog" 2>/dev/null || echo 0; }
# log_count OFFSET PATTERN - lines matching PATTERN in the maillog after byte OFFSET
log_count() { tail -c +$(($1 + 1)) "$PF/maillog" 2>/dev/null | grep -c -- "$2"; }
# wait_log OFFSET PATTERN COUNT WHAT - wait until COUNT lines match PATTERN
# after OFFSET, at most $WAIT seconds; otherwise die naming WHAT and how many came
wait_log() {
	limit=$(($(date +%s) + WAIT))
	while :; do
		got=$(log_count "$1" "$2")
		[ "$got" -ge "$3" ] && return 0
		[ "$(date +%s)" -ge "$limit" ] && die "$4: only $got of $3 arrived within ${WAIT}s (log lines /$2/; queue: $(pf_queue_count) messages)"
		sleep 0.1
	done
}

MSG="$T_DIR/message.eml"
python3 "$top/bench/make_message.py" 4096 >"$MSG"
HDRS=$(awk '/^$/ { exit } /^[A-Za-z-]+:/ { n++ } END { print n }' "$MSG")
SIZE=$(($(wc -c <"$MSG") + $(wc -l <"$MSG")))

SINK_PORT=$(free_port)
smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 512 >/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for smtp-sink python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT)).close()"

# DNS: NSD with 50 SRV-routed domains behind a counting relay; the milter
# and the transport ask the relay (section 6). bench.example comes from the
# routes file and needs no DNS.
{
	printf '$ORIGIN test.\n$TTL 3600\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n@ NS ns.test.\nns A 127.0.0.1\n'
	i=0
	while [ $i -lt $DNS_DOMAINS ]; do
		printf '_smtp._tcp.dom%d SRV 10 0 %s mail.dom%d.test.\nmail.dom%d A 127.0.0.1\n' $i "$SINK_PORT" $i $i
		i=$((i + 1))
	done
} >"$T_DIR/bench.zone"
start_nsd "$T_DIR/bench.zone" test.
DNSLOG="$T_DIR/dns.queries"
: >"$DNSLOG"
python3 "$top/tests/lib/dnscount.py" "$NSD_PORT" "$T_DIR/dnscount.port" "$DNSLOG" &
T_PIDS="$T_PIDS $!"
wait_for "the counting DNS relay" test -s "$T_DIR/dnscount.port"
DNS_PORT=$(cat "$T_DIR/dnscount.port")

# the customer's server of the verified route (section 7): asked once, to warm the cache
start_peer verify '{}'
VERIFY_PORT=$PEER_PORT
VERIFY_DIR=$PEER_DIR
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$DNS_PORT
postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock${BENCH_CONF:+
$BENCH_CONF}"
setup_mxport "bench.example [127.0.0.1]:$SINK_PORT
verify.example [127.0.0.1]:$VERIFY_PORT verify=yes"
sed -i 's/^log_file = .*/log_file =/' "$T_DIR/etc/mxport.conf" # syslog only, as in production
start_milter
start_postfix "$(free_port)"
# max_use: no smtpd or cleanup exits in the middle of a pass (its CPU would be lost)
postconf -c "$PF/etc" -e default_process_limit=600 smtpd_client_connection_count_limit=0 \
	max_use=1000000 maillog_file_rotate_suffix=x >/dev/null
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks.lmtp"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
start_lmtp
LMTP_PID=$(echo $T_PIDS | awk '{ print $NF }')
BASE_TRANSPORT=$(postconf -c "$PF/etc" -h transport_maps)
# the same without mxport's socketmap, for the passes through Postfix's own
# delivery: Postfix asks every table of transport_maps for the full address
# before any for the domain, and the socketmap answers rcpt@bench.example,
# so an inline: entry for the domain in front of it is never reached
OWN_TRANSPORT=$(echo "$BASE_TRANSPORT" | sed 's/, *socketmap:[^,]*//g; s/^socketmap:[^,]*, *//')
case $OWN_TRANSPORT in *socketmap:*) echo "bench: cannot take the socketmap out of transport_maps: $BASE_TRANSPORT" >&2; exit 1 ;; esac
MILTER_LINE=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/milter/main.cf" | sed -n 's/^smtpd_milters = //p')
RELAY_MAP=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^relay_domains = //p')
HC_PIPE="regexp:$PF/etc/mxport_header_checks"
HC_LMTP="regexp:$PF/etc/mxport_header_checks.lmtp"
HELD="smtp, relay, mxport, mxport-lmtp"
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1
MASTER=$(awk '{ print $1 }' "$PF/queue/pid/master.pid")

VERIFY_MAP=$(contrib_paths "$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^#smtpd_recipient_restrictions = //p')

# The default path as an admin gets it: `mxport-setup postfix` itself, run
# on this Postfix (as tests/postfix/test_postfix_stock.sh does), with this
# bench's mxport.conf but dns_routes at its default (no; section 6 needs
# yes): the relay check and transport_maps read mxport_routes, a table of
# Postfix's own made from the routes file (mxport-route --export domains,
# postmap), in Postfix's processes; no socketmap in either list. Its names
# are relative to the queue directory (mxport/lmtp.sock, ...): links there
# lead to this bench's sockets. The lists it writes are kept in SETUP_RELAY
# and SETUP_TMAPS for the passes (b'') and (d); what else it sets (the
# LMTP service's limits, reject_unauth_destination) stays for every pass.
SETUP_CONF="$T_DIR/etc/mxport-setup.conf"
grep -v '^dns_routes' "$T_DIR/etc/mxport.conf" >"$SETUP_CONF"
chmod 644 "$SETUP_CONF"
SETUP_ARGS="-c $PF/etc --mxport-conf $SETUP_CONF --transport $T_DIR/bin/mxport-transport --mxport-route $T_DIR/bin/mxport-route"
install -d -o mxport -g postfix -m 0750 "$PF/queue/mxport"
for s in lmtp socketmap milter; do ln -sf "$T_DIR/run/$s.sock" "$PF/queue/mxport/$s.sock"; done
postconf -c "$PF/etc" -e "relay_domains=" "transport_maps=$OWN_TRANSPORT" >/dev/null
# BENCH_SETUP_DBTYPE: the routes table's type (mxport-setup takes
# default_database_type; Debian's is hash)
[ -n "${BENCH_SETUP_DBTYPE:-}" ] && postconf -c "$PF/etc" -e "default_database_type=$BENCH_SETUP_DBTYPE" >/dev/null
# shellcheck disable=SC2086
"$MXPORT_BUILDDIR/setup/mxport-setup" postfix $SETUP_ARGS >"$T_DIR/setup.out" 2>&1 ||
	die "mxport-setup postfix failed: $(tail -n 3 "$T_DIR/setup.out")"
# its lmtp(8) service is chrooted (master.cf chroot y): out of chroot here,
# as every service of this Postfix (tests/lib/postfix.sh), so that it
# reaches the links above and the bench's sockets behind them
postconf -c "$PF/etc" -F "mxport-lmtp/unix/chroot=n" >/dev/null || die "postconf -F mxport-lmtp/unix/chroot=n failed"
# BENCH_LMTP_CONCURRENCY: the LMTP service's qmgr concurrency instead of
# mxport-setup's (lmtp_max_clients), to see what the limit does
[ -n "${BENCH_LMTP_CONCURRENCY:-}" ] &&
	postconf -c "$PF/etc" -e "mxport-lmtp_destination_concurrency_limit=$BENCH_LMTP_CONCURRENCY" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
SETUP_RELAY=$(postconf -c "$PF/etc" -h relay_domains)
SETUP_TMAPS=$(postconf -c "$PF/etc" -h transport_maps)
SETUP_TABLE="$PF/etc/mxport_routes"
SETUP_DB=$(awk -F '\t' '$1 == "table" { print $3 }' "$PF/etc/mxport-setup.state")
case "$SETUP_RELAY $SETUP_TMAPS" in *socketmap:*) die "mxport-setup put the socketmap in relay_domains or transport_maps: $SETUP_RELAY; $SETUP_TMAPS" ;; esac
grep -q '^bench\.example	mxport-lmtp:unix:mxport/lmtp\.sock$' "$SETUP_TABLE" ||
	die "mxport-setup's routes table does not route bench.example to the LMTP service: $(head -n 5 "$SETUP_TABLE")"

# use_path NAME - Postfix configured for one path (every setting named each
# time, so the order of the passes does not matter), reloaded
use_path() {
	rr=""
	case $1 in
	a | r_plain) set -- "$1" "" "bench.example" "inline:{ {bench.example = smtp:[127.0.0.1]:$SINK_PORT} }, $OWN_TRANSPORT" "$HC_PIPE" ;;
	b | r_milter | r_mverify) set -- "$1" "$MILTER_LINE" "$RELAY_MAP" "$BASE_TRANSPORT" "$HC_PIPE" ;;
	b1) set -- "$1" "$MILTER_LINE" "$RELAY_MAP" "$BASE_TRANSPORT" "$HC_LMTP" ;;
	b2) set -- "$1" "" "$SETUP_RELAY" "$SETUP_TMAPS" "$HC_PIPE" ;;
	r_map) set -- "$1" "" "$RELAY_MAP" "$BASE_TRANSPORT" "$HC_PIPE" ;;
	r_tverify) set -- "$1" "" "$RELAY_MAP" "$BASE_TRANSPORT" "$HC_PIPE"
		rr=$VERIFY_MAP ;;
	esac
	case $1 in r_*) held=$HELD ;; *) held="" ;; esac
	postconf -c "$PF/etc" -e "smtpd_milters=$2" "relay_domains=$3" "transport_maps=$4" \
		"milter_header_checks=$5" "defer_transports=$held" "smtpd_recipient_restrictions=$rr" >/dev/null ||
		die "postconf for path $1 failed"
	postfix -c "$PF/etc" reload >/dev/null 2>&1
	sleep 1
}

# send_pass PORT RCPT COUNT WHAT - smtp-source, with a deadline
send_pass() {
	timeout "$WAIT" smtp-source -s $SESSIONS -F "$MSG" -m "$3" -f bench@sender.test -t "$2" "127.0.0.1:$1" \
		>"$T_DIR/source.out" 2>&1
	rc=$?
	[ $rc -eq 124 ] && die "$4: smtp-source did not finish sending $3 messages within ${WAIT}s"
	[ $rc -ne 0 ] && die "$4: smtp-source failed ($rc): $(tail -n 3 "$T_DIR/source.out")"
	return 0
}

RESULTS="$T_DIR/results"
: >"$RESULTS"
# timed_pass PATH ROUND [FILE] - one pass: N messages; a delivery pass ends at the
# last "status=sent", a receive pass (deliveries deferred) when smtp-source
# has its last 250 (then the queue is emptied). Appends to FILE ($RESULTS).
timed_pass() {
	out=${3:-$RESULTS}
	use_path "$1"
	off=$(log_size)
	case $1 in r_*) python3 "$top/bench/cpu.py" snap "$T_DIR/cpu.snap" "$MASTER" "$MILTER_PID" ;; esac
	case $1 in *verify) rcpt=rcpt@verify.example ;; *) rcpt=rcpt@bench.example ;; esac
	t0=$(now_ms)
	send_pass "$PF_PORT" "$rcpt" "$N" "path $1, round $2"
	case $1 in
	r_*)
		t=$(($(now_ms) - t0))
		cpu=$(python3 "$top/bench/cpu.py" diff "$T_DIR/cpu.snap" "$MASTER" "$MILTER_PID")
		wait_log "$off" "postfix/cleanup.*message-id=" "$N" "receive pass $1, round $2: messages received"
		echo "pass $1 $2 $t $cpu" >>"$out"
		postsuper -c "$PF/etc" -d ALL >/dev/null 2>&1
		;;
	*)
		wait_log "$off" "status=sent" "$N" "delivery pass $1, round $2: deliveries"
		if [ "$1" = a ]; then
			own=$(tail -c +$((off + 1)) "$PF/maillog" | grep "status=sent" | grep -c "postfix/smtp\[")
			[ "$own" -ge "$N" ] || die "delivery pass a, round $2: only $own of $N deliveries by Postfix's smtp(8)"
		fi
		echo "pass $1 $2 $(($(now_ms) - t0))" >>"$out"
		;;
	esac
	printf '%s ' "$1" >&2
}

say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), $(postconf -d -h mail_version | sed 's/^/Postfix /')"
say "messages: $N a pass of $SIZE bytes with $HDRS header lines (bench/make_message.py), one recipient, $SESSIONS parallel sessions"
say ""

if ! skipped relay; then
	for r in $(seq 1 "$ROUNDS"); do
		printf 'round %s of %s: ' "$r" "$ROUNDS" >&2
		t0=$(now_ms)
		send_pass "$SINK_PORT" rcpt@bench.example "$N" "ceiling, round $r"
		echo "ceiling $(($(now_ms) - t0))" >>"$RESULTS"
		for p in a b b1 b2 r_plain r_map r_milter; do
			timed_pass "$p" "$r"
		done
		echo >&2
	done
	python3 "$top/bench/summarize.py" "$RESULTS" "$N"
fi

# --- 2b. the milter on Sendmail -------------------------------------------------------------
# Two Sendmail daemons from contrib/sendmail's .cf, queue-only (receive
# only, like the Postfix passes), no queue runs: s_map without the milter
# (its socket map still answers the relay check and the mailertable),
# s_milter with it, each with a listen queue for all of smtp-source's
# sessions (Sendmail's 10 made connections wait a second for a SYN
# retry: 11 msg/s). smtp-source connects from 127.0.0.1, an address of
# Sendmail's own that it relays for without the access map: the same in
# both passes, so the base is, if anything, cheaper than on a real relay.
# sm_daemon NAME CF PORT - one daemon; its PID in SM_DPID
sm_daemon() {
	sed -e "s/^O DeliveryMode=.*/O DeliveryMode=queueonly/" \
		-e "s/^O DaemonPortOptions=.*/O DaemonPortOptions=Port=$3, Addr=127.0.0.1, Name=MTA, Listen=256/" \
		-e "s|^O PidFile=.*|O PidFile=$SM/$1.pid|" "$SM/sendmail.cf" >"$SM/$1.cf"
	[ "$2" = nomilter ] && sed -i 's/^O InputMailFilters=.*/O InputMailFilters=/' "$SM/$1.cf"
	unshare -u sh -c 'hostname relay.test && exec "$0" "$@"' "$SM/sendmail" -C "$SM/$1.cf" -bD \
		>"$SM/$1.log" 2>&1 &
	SM_DPID=$!
	T_PIDS="$T_PIDS $SM_DPID"
	wait_for "sendmail $1 on port $3" python3 -c "import socket; socket.create_connection(('127.0.0.1', $3)).close()"
}
if ! skipped sendmail; then
	SM_PORT=$(free_port)
	start_sendmail "$SINK_PORT" # builds the .cf; its own daemon runs queues, so it goes
	kill "$SM_PID"
	wait "$SM_PID" 2>/dev/null
	grep -q '^O InputMailFilters=mxport' "$SM/sendmail.cf" || die "contrib/sendmail's .cf has no InputMailFilters=mxport"
	S_MAP_PORT=$(free_port)
	sm_daemon s_map nomilter "$S_MAP_PORT"
	S_MAP_PID=$SM_DPID
	S_MILTER_PORT=$(free_port)
	sm_daemon s_milter milter "$S_MILTER_PORT"
	S_MILTER_PID=$SM_DPID
	SM_N=${BENCH_SM_MESSAGES:-$((N < 300 ? N : 300))}
	SM_RESULTS="$T_DIR/results.sendmail"
	: >"$SM_RESULTS"
	sm_queued() { ls "$SM/queue" | grep -c '^qf'; }
	for r in $(seq 1 "$ROUNDS"); do
		printf 'sendmail round %s of %s: ' "$r" "$ROUNDS" >&2
		for p in s_map s_milter; do
			case $p in s_map) port=$S_MAP_PORT pid=$S_MAP_PID ;; *) port=$S_MILTER_PORT pid=$S_MILTER_PID ;; esac
			rm -f "$SM/queue/"*
			python3 "$top/bench/cpu.py" tree-snap "$T_DIR/cpu.snap" "$pid" "$MILTER_PID"
			t0=$(now_ms)
			send_pass "$port" rcpt@bench.example "$SM_N" "Sendmail pass $p, round $r"
			t=$(($(now_ms) - t0))
			[ "$(sm_queued)" -eq "$SM_N" ] || die "Sendmail pass $p, round $r: $(sm_queued) of $SM_N messages queued"
			tagged=$(cat "$SM/queue/"qf* | grep -c '^H.*X-Mxport: bench\.example')
			case $p in
			s_map) [ "$tagged" -eq 0 ] || die "Sendmail pass s_map, round $r: $tagged messages tagged without the milter" ;;
			*) [ "$tagged" -eq "$SM_N" ] || die "Sendmail pass s_milter, round $r: $tagged of $SM_N messages tagged" ;;
			esac
			# the session children are reaped (their CPU is the daemon's cutime) once they are gone
			wait_until 10 sh -c "! pgrep -P $pid >/dev/null"
			echo "pass $p $r $t $(python3 "$top/bench/cpu.py" tree-diff "$T_DIR/cpu.snap" "$pid" "$MILTER_PID")" >>"$SM_RESULTS"
			printf '%s ' "$p" >&2
		done
		echo >&2
	done
	rm -f "$SM/queue/"*
	say "Sendmail: $SM_N messages a pass"
	python3 "$top/bench/summarize.py" "$SM_RESULTS" "$SM_N"
fi

# --- 7. verify (before the sections that rewrite the routes file) ---------------------------
if ! skipped verify; then
	RESULTS_V="$T_DIR/results.verify"
	: >"$RESULTS_V"
	use_path r_mverify
	send_mail bench@sender.test rcpt@verify.example >"$T_DIR/verify.warm" 2>&1
	grep -q '^RCPT rcpt@verify.example 250' "$T_DIR/verify.warm" || die "verify: the warm-up recipient was not accepted: $(cat "$T_DIR/verify.warm")"
	c0=$(ls "$VERIFY_DIR" | grep -c '^session\.')
	for r in $(seq 1 "$ROUNDS"); do
		printf 'verify round %s of %s: ' "$r" "$ROUNDS" >&2
		for p in r_milter r_mverify r_map r_tverify; do
			timed_pass "$p" "$r" "$RESULTS_V"
		done
		echo >&2
	done
	postsuper -c "$PF/etc" -d ALL >/dev/null 2>&1
	python3 "$top/bench/summarize.py" --verify "$RESULTS_V" "$N"
	say "   connections to the customer's server during the passes: $(($(ls "$VERIFY_DIR" | grep -c '^session\.') - c0)) (every RCPT a cache hit)"
	say ""
	use_path b
fi

# --- 3. memory ------------------------------------------------------------------------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
if ! skipped memory; then
	use_path b
	idle_kb=$(rss "$MILTER_PID")
	python3 "$MXPORT_SRCDIR/bench/hold_sessions.py" 127.0.0.1 "$PF_PORT" 500 "$T_DIR/hold.ready" &
	HOLD=$!
	wait_until 120 test -e "$T_DIR/hold.ready" || die "memory: 500 sessions were not open within 120 s"
	sleep 1
	busy_kb=$(rss "$MILTER_PID")
	threads=$(awk '/Threads/ {print $2}' "/proc/$MILTER_PID/status")
	fds=$(ls "/proc/$MILTER_PID/fd" | wc -l)
	kill "$HOLD" 2>/dev/null
	wait "$HOLD" 2>/dev/null
	say "3. mxport-milter memory"
	say "   idle: $((idle_kb / 1024)) MB resident; with $(cat "$T_DIR/hold.ready") SMTP sessions open in RCPT: $((busy_kb / 1024)) MB resident, $threads threads, $fds open descriptors"
	say ""
fi

# --- 4. transport start-up, 5. LMTP per message: callgrind ---------------------------------
if ! skipped startup || ! skipped lmtp; then
	make_certs
	start_peer plain '{}'
	PLAIN_PORT=$PEER_PORT
	PLAIN_DIR=$PEER_DIR
	start_peer tls "{\"tls\": {\"cert\": \"$T_DIR/certs/good.pem\", \"key\": \"$T_DIR/certs/good.key\"}}"
	TLS_PORT=$PEER_PORT
	start_peer xfwd '{"ehlo": ["XFORWARD NAME ADDR PROTO HELO SOURCE"]}'
	XFWD_PORT=$PEER_PORT
	XFWD_DIR=$PEER_DIR
	printf 'bench.example [127.0.0.1]:%s\nplain.example [127.0.0.1]:%s tls=none\ntls.example [127.0.0.1]:%s tls=encrypt\n' \
		"$SINK_PORT" "$PLAIN_PORT" "$TLS_PORT" >"$T_DIR/etc/routes"
	# 5b: what issue 14's per-delivery features cost: XFORWARD to a server
	# that offers it, and a domain with an outage contact (notify=)
	printf 'xfwd.example [127.0.0.1]:%s tls=none\nnotify.example [127.0.0.1]:%s tls=none notify=owner@sender.test\n' \
		"$XFWD_PORT" "$PLAIN_PORT" >>"$T_DIR/etc/routes"
	mkdir -p "$T_DIR/state"
	chown nobody "$T_DIR/state"
	grep -q '^state_directory' "$T_DIR/etc/mxport.conf" || echo "state_directory = $T_DIR/state" >>"$T_DIR/etc/mxport.conf"
	hup_milter
	chmod 644 "$MSG"
	mkdir -p "$T_DIR/cg"
	chmod 777 "$T_DIR/cg"
fi
if ! skipped startup; then
	instr() { # instr DOMAIN - instructions of one transport run
		out="$T_DIR/cg/callgrind.$1"
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- valgrind --tool=callgrind \
			--callgrind-out-file="$out" "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" \
			-q BENCH -f bench@sender.test -- "rcpt@$1" <"$MSG" >/dev/null 2>&1
		sed -n 's/^summary: //p' "$out"
	}
	say "4. transport start-up (callgrind, one pipe-mode mxport-transport run, the 4 KB message)"
	say "   plain SMTP: $(instr plain.example) instructions; STARTTLS: $(instr tls.example) instructions"
	say ""
fi

if ! skipped lmtp; then
	# lmtp_instr COUNT [DOMAIN [XFORWARD]] - instructions of one
	# mxport-transport -L - session of COUNT deliveries to rcpt@DOMAIN
	# (plain.example), the feed sending XFORWARD when XFORWARD is 1, into
	# $T_DIR/cg/ir.COUNT.DOMAIN
	lmtp_instr() {
		d=${2:-plain.example}
		out="$T_DIR/cg/callgrind.lmtp.$1.$d${CG_TAG:-}"
		FEED_RCPTS=${CG_RCPTS:-1} FEED_XFORWARD=${3:-0} setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
			timeout $((WAIT + $1)) python3 "$top/bench/lmtp_feed.py" "$1" "${CG_MSG:-$MSG}" bench@sender.test "rcpt@$d" -- \
			valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$T_DIR/bin/mxport-transport" -c "${LMTP_CONF:-$T_DIR/etc/mxport.conf}" -L - \
			>"$T_DIR/cg/feed.$1.$d" 2>>"$T_DIR/cg/valgrind.log" ||
			die "LMTP callgrind run of $1 deliveries to $d did not complete within $((WAIT + $1))s: $(tail -n 2 "$T_DIR/cg/feed.$1.$d")"
		sed -n 's/^summary: //p' "$out" >"$T_DIR/cg/ir.$1.$d${CG_TAG:-}"
		[ -s "$T_DIR/cg/ir.$1.$d${CG_TAG:-}" ] || die "LMTP callgrind run of $1 deliveries to $d: no instruction count in $out"
	}
	# per_msg DOMAIN - instructions a delivery to DOMAIN without start-up
	per_msg() {
		python3 -c "print('%.0f' % (($(cat "$T_DIR/cg/ir.$LMTP_N.$1") - $(cat "$T_DIR/cg/ir.1.$1")) / ($LMTP_N - 1.0)))"
	}
	c0=$(ls "$PLAIN_DIR" | grep -c '^session\.')
	lmtp_instr 1
	lmtp_instr "$LMTP_N"
	one=$(cat "$T_DIR/cg/ir.1.plain.example")
	many=$(cat "$T_DIR/cg/ir.$LMTP_N.plain.example")
	conns=$(($(ls "$PLAIN_DIR" | grep -c '^session\.') - c0))
	say "5. the LMTP daemon's CPU per message (callgrind: mxport-transport -L -, $LMTP_N plain deliveries of the 4 KB message on one LMTP session, kept SMTP session to the peer)"
	say "   $LMTP_N deliveries: $many instructions; one delivery: $one (start-up included)"
	say "   per message: $(python3 -c "print('%.0f' % ($many / $LMTP_N))") instructions (total / $LMTP_N; goal <= 500000); without start-up: $(python3 -c "print('%.0f' % (($many - $one) / ($LMTP_N - 1.0)))") ((total - one delivery) / $(($LMTP_N - 1)))"
	say "   SMTP connections the peer saw for both runs: $conns (one a run: the session was kept)"
	say "   the most expensive functions (self cost, share of the $LMTP_N-delivery run):"
	callgrind_annotate "$T_DIR/cg/callgrind.lmtp.$LMTP_N.plain.example" 2>/dev/null |
		sed -n 's/^ *[0-9,]* *(\( *[0-9.]*%\)) *\(.*\)$/\1 \2/p' | grep -v 'PROGRAM TOTALS' | head -n 12 |
		sed 's/ \[[^]]*\]$//; s/^/     /' 
	say ""
	lmtp_instr 1 xfwd.example 1
	lmtp_instr "$LMTP_N" xfwd.example 1
	lmtp_instr 1 notify.example
	lmtp_instr "$LMTP_N" notify.example
	[ "$(cat "$XFWD_DIR"/session.* 2>/dev/null | grep -c '^XFORWARD ')" -ge "$LMTP_N" ] ||
		die "5b: the XFORWARD peer saw fewer XFORWARD commands than deliveries (session files in $XFWD_DIR)"
	base=$(per_msg plain.example)
	xf=$(per_msg xfwd.example)
	nt=$(per_msg notify.example)
	say "5b. what the delivery features cost (the same callgrind runs, instructions a delivery without start-up)"
	say "   plain: $base; XFORWARD (the feed sends it, the server offers it, the transport checks and sends it): $xf ($((xf - base)) more)"
	say "   a route with an outage contact (notify=: the state file looked up after each delivery): $nt ($((nt - base)) more)"
	say "   mxport-queue costs nothing per message: it reads the MTA's queue when an admin runs it"
	say ""
	# 5c: the scale section's size and recipient rows, per message without
	# start-up: (instructions of K+1 deliveries - of 1) / K, each on one
	# LMTP session (the feed's FEED_RCPTS recipients a transaction)
	for sz in 102400 10485760; do
		python3 "$top/bench/make_message.py" "$sz" >"$T_DIR/cg/msg.$sz"
		chmod 644 "$T_DIR/cg/msg.$sz"
	done
	# cg_row LABEL TAG MSGFILE RCPTS K - one row of 5c
	cg_row() {
		CG_TAG=.$2
		CG_MSG=$3
		CG_RCPTS=$4
		lmtp_instr 1
		lmtp_instr $(($5 + 1))
		CG_TAG=
		CG_MSG=
		CG_RCPTS=
		say "   $1: $(python3 -c "print('%.0f' % (($(cat "$T_DIR/cg/ir.$(($5 + 1)).plain.example.$2") - $(cat "$T_DIR/cg/ir.1.plain.example.$2")) / $5.0))") instructions a message ($5 + 1 deliveries)"
	}
	say "5c. the LMTP daemon per message by size and recipients (callgrind, as 5: instructions a delivery without start-up)"
	say "   4 KB, 1 recipient: $base (5 above)"
	cg_row "100 KB, 1 recipient" 100k "$T_DIR/cg/msg.102400" 1 20
	cg_row "10 MB, 1 recipient" 10m "$T_DIR/cg/msg.10485760" 1 2
	cg_row "4 KB, 100 recipients" r100 "$MSG" 100 10
	say ""
	# 5d: what shared_state (issue 22) costs a delivery and a deferral: the
	# same runs with one memcached on loopback beside the same runs without
	if command -v memcached >/dev/null; then
		MC_PORT=$(free_port)
		memcached -u nobody -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 16 &
		T_PIDS="$T_PIDS $!"
		wait_for memcached python3 -c "import socket; socket.create_connection(('127.0.0.1', $MC_PORT)).close()"
		DOWN_PORT=$(free_port) # nothing listens there: every delivery is deferred
		printf 'down.example [127.0.0.1]:%s tls=none notify=owner@sender.test\n' "$DOWN_PORT" >>"$T_DIR/etc/routes"
		sed '/^shared_state/d' "$T_DIR/etc/mxport.conf" >"$T_DIR/etc/mxport-shared.conf"
		printf 'shared_state = memcache:127.0.0.1:%s\nshared_state_timeout = 150\n' "$MC_PORT" >>"$T_DIR/etc/mxport-shared.conf"
		chmod 644 "$T_DIR/etc/mxport-shared.conf"
		hup_milter
		for conf in mxport mxport-shared; do
			for d in notify.example down.example; do
				for count in 1 "$LMTP_N"; do
					expect=2
					[ "$d" = down.example ] && expect=4
					FEED_EXPECT=$expect LMTP_CONF="$T_DIR/etc/$conf.conf" lmtp_instr "$count" "$d"
					mv "$T_DIR/cg/ir.$count.$d" "$T_DIR/cg/ir.$count.$d.$conf"
				done
			done
		done
		# sc_per_msg DOMAIN CONF - instructions a transaction, as per_msg
		sc_per_msg() {
			python3 -c "print('%.0f' % (($(cat "$T_DIR/cg/ir.$LMTP_N.$1.$2") - $(cat "$T_DIR/cg/ir.1.$1.$2")) / ($LMTP_N - 1.0)))"
		}
		dl0=$(sc_per_msg notify.example mxport)
		dl1=$(sc_per_msg notify.example mxport-shared)
		df0=$(sc_per_msg down.example mxport)
		df1=$(sc_per_msg down.example mxport-shared)
		say "5d. what shared_state costs (memcached on loopback; the same callgrind runs without it; instructions a transaction without start-up)"
		say "   a delivery to a route with an outage contact: $dl0 without, $dl1 with (difference $((dl1 - dl0)))"
		say "   a deferral of that route (its server down: the outage's start and state shared): $df0 without, $df1 with (difference $((df1 - df0)))"
		say ""
	else
		say "5d. shared_state: not measured (no memcached: apt-get install memcached)"
		say ""
	fi
fi

# --- 6. DNS queries ----------------------------------------------------------------------------
if ! skipped dns; then
	domains=$(awk -v n=$DNS_DOMAINS 'BEGIN { for (i = 0; i < n; i++) printf "%sdom%d.test", i ? "," : "", i }')
	say "6. DNS: $DNS_N messages to $DNS_DOMAINS SRV-routed domains (TTL 3600 s) through the milter and the transport; queries NSD got (through tests/lib/dnscount.py)"
	say "   before this section (the passes above; bench.example is in the routes file): $(wc -l <"$DNSLOG") queries"
	for p in b1 b; do
		use_path "$p"
		q0=$(wc -l <"$DNSLOG")
		off=$(log_size)
		STRACE=""
		if [ "$p" = b1 ] && command -v strace >/dev/null; then
			# who asks: every process of the LMTP daemon, those that exist now and those it forks
			strace -f -qq -xx -s 512 -e trace=connect,send,sendto -o "$T_DIR/strace.$p" \
				$(for pid in $LMTP_PID $(pgrep -P "$LMTP_PID"); do printf -- '-p %s ' "$pid"; done) 2>/dev/null &
			STRACE=$!
			sleep 1
		fi
		python3 "$top/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$DNS_N" $SESSIONS "$domains" ||
			die "DNS pass $p: not every message was accepted"
		limit=$(($(date +%s) + WAIT))
		while [ "$(log_count "$off" status=sent)" -lt "$DNS_N" ]; do
			[ "$(date +%s)" -ge "$limit" ] && die "DNS pass $p: only $(log_count "$off" status=sent) of $DNS_N delivered within ${WAIT}s"
			sleep 0.2
		done
		[ -n "$STRACE" ] && { kill "$STRACE"; wait "$STRACE" 2>/dev/null; }
		tail -n +$((q0 + 1)) "$DNSLOG" >"$T_DIR/dns.$p"
		case $p in
		b1) label="(b') milter + LMTP daemon"
			# Postfix logs conn_use=N for a delivery on a reused LMTP connection; a
			# connection process of the daemon serves the next connections while
			# it waits (lmtp_process_idle_time), with the same cache; the
			# processes share their DNS answers (dns/route_shared.c)
			lmtp_conns=$(tail -c +$((off + 1)) "$PF/maillog" | grep 'status=sent' | grep -vc 'conn_use=')
			procs="1 milter (its socketmap shares its cache) + the LMTP daemon's connection processes, a cache each and the answers they share ($lmtp_conns LMTP connections: Postfix's log, deliveries without conn_use=; $(pgrep -P "$LMTP_PID" | wc -l) processes alive at the end)" ;;
		b) label="(b) milter + pipe transport"
			procs="1 milter + $DNS_N transport runs (a process each, its cache dies with it)" ;;
		esac
		say "   $label: $(wc -l <"$T_DIR/dns.$p") queries; processes holding a cache: $procs"
		python3 - "$T_DIR/dns.$p" "$DNS_DOMAINS" <<'PYEOF'
import collections, statistics, sys
c = collections.Counter()
for line in open(sys.argv[1]):  # "udp|tcp QTYPE QNAME" (tests/lib/dnscount.py)
    f = line.split()
    if len(f) == 3:
        c[(f[2].lower(), f[1])] += 1
by = collections.defaultdict(list)
for (name, t), k in c.items():
    kind = "_smtp._tcp.domN.test" if name.startswith("_smtp._tcp.dom") else ("mail.domN.test" if name.startswith("mail.dom") else name)
    by[(kind, t)].append(k)
for (kind, t), ks in sorted(by.items()):
    n = int(sys.argv[2]) if "domN" in kind else len(ks)
    ks = ks + [0] * (n - len(ks))
    print("     %-5s %-24s per name: median %g, min %d, max %d (%d names, %d queries)" % (t, kind, statistics.median(ks), min(ks), max(ks), n, sum(ks)))
PYEOF
		[ -s "$T_DIR/strace.$p" ] && python3 "$top/bench/dns_by_process.py" "$T_DIR/strace.$p" "$DNS_PORT"
	done
	say ""
fi
# --- 8. scale: routes, message size, recipients, TLS; ratios to smtp(8) and to discard(8) --
# Every row: three passes one after the other in each round, (a) Postfix's
# own smtp(8), (b'') the DEFAULT path as `mxport-setup postfix` writes it
# (relay_domains = pipemap:{hash:mxport_routes, static:forwarded},
# transport_maps = hash:mxport_routes in front of the admin's: a table of
# Postfix's own, read in its processes, lmtp(8) to mxport-transport -L) and
# (d) the ceiling: the same Postfix, the same relay check, delivering to
# discard(8). For each routes file mxport-setup --update-routes builds the
# table (as the milter's reload does), timed beside the routes index.
# Ratios within a round, medians over the rounds with their ranges. CPU per
# message: user+sys of this Postfix's master and every process under it
# (smtpd, cleanup, qmgr, smtp, lmtp, discard; the exited ones through the
# master's cutime), of the LMTP daemon and its connection processes, and of
# the milter process (the socketmap), divided by the messages of the pass;
# the customer's server is not counted.
#   routes  10, 100,000, 1,000,000 routes (mxport-route --index; Postfix's
#           smtp(8) reads relay_domains and transport_maps from a cdb: table
#           of the same domains), 4 KB messages, smtp-sink the customer
#   size    4 KB, 100 KB, 10 MB (a quarter, a fiftieth of the messages)
#   rcpt    1, 10, 100 recipients a message (smtp-source -r; a tenth of the
#           messages for 10 and 100), throughput in messages
#   tls     a private Postfix as the customer (smtpd with STARTTLS, discard
#           transport): plain, STARTTLS on a kept session (mxport: the LMTP
#           daemon's kept session; smtp(8): smtp_tls_connection_reuse via
#           tlsproxy), STARTTLS per connection (mxport: a second LMTP
#           daemon with connection_cache_time = 0 put on the socket;
#           smtp(8): no connection cache)
if ! skipped scale; then
	SC="$T_DIR/scale"
	mkdir -p "$SC"
	chmod 755 "$SC"
	SC_N=${BENCH_SCALE_MESSAGES:-$((QUICK ? 20 : N))}
	if [ "$QUICK" = 1 ]; then SC_ROUTES=${BENCH_SCALE_ROUTES:-"10 1000 10000"}; else SC_ROUTES=${BENCH_SCALE_ROUTES:-"10 100000 1000000"}; fi
	SC_DIMS=${BENCH_SCALE_DIMS:-"routes size rcpt tls"}
	SC_RESULTS="$T_DIR/results.scale"
	: >"$SC_RESULTS"
	: >"$SC/table.times"
	: >"$SC/agents"
	[ -f "$T_DIR/certs/good.pem" ] || make_certs >/dev/null 2>&1
	[ -f "$T_DIR/certs/good.pem" ] || die "scale: make_certs made no certificate"
	chmod 644 "$T_DIR/certs/good.key"
	# the customer for the TLS rows: Postfix with STARTTLS, delivering to discard(8)
	CUST_PORT=$(free_port)
	start_customer_postfix customer "$CUST_PORT" "$SINK_PORT" "smtpd_tls_cert_file = $T_DIR/certs/good.pem
smtpd_tls_key_file = $T_DIR/certs/good.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
default_transport = discard:
relay_transport = discard:
message_size_limit = 104857600
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
max_use = 1000000"
	printf 'tlsmgr unix - - n 1000? 1 tlsmgr\n' >>"$T_DIR/customer/etc/master.cf"
	postfix -c "$T_DIR/customer/etc" reload >/dev/null 2>&1
	# this Postfix: tlsmgr and tlsproxy for smtp(8)'s TLS passes, no size limit
	printf 'tlsmgr unix - - n 1000? 1 tlsmgr\ntlsproxy unix - - n - 0 tlsproxy\n' >>"$PF/etc/master.cf"
	postconf -c "$PF/etc" -e message_size_limit=104857600 "smtp_tls_CAfile=$T_DIR/certs/ca.pem" >/dev/null
	# the routes files and Postfix's tables of the same domains; the
	# domains the passes send to come last
	for sc_n in $SC_ROUTES; do
		python3 - "$SC" "$sc_n" "$SINK_PORT" "$CUST_PORT" <<'PYEOF' || die "scale: could not write the routes files"
import sys
d, n, sink, cust = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
special = [("bench.example", sink, ""), ("plain.example", cust, " tls=none"), ("tls.example", cust, " tls=encrypt")]
with open("%s/routes.%d" % (d, n), "w") as f, open("%s/pf.%d" % (d, n), "w") as g:
    for i in range(max(n - len(special), 0)):
        x, p = i % 254 + 1, 2000 + i % 1000
        f.write("cust%d.example [192.0.2.%d]:%d\n" % (i, x, p))
        g.write("cust%d.example smtp:[192.0.2.%d]:%d\n" % (i, x, p))
    for dom, port, opt in special:
        f.write("%s [127.0.0.1]:%s%s\n" % (dom, port, opt))
        g.write("%s smtp:[127.0.0.1]:%s\n" % (dom, port))
PYEOF
		t0=$(now_ms)
		"$T_DIR/bin/mxport-route" -c "$T_DIR/etc/mxport.conf" --index "$SC/routes.$sc_n" >"$SC/index.$sc_n.out" 2>&1 ||
			die "scale: mxport-route --index of $sc_n routes failed: $(tail -n 3 "$SC/index.$sc_n.out")"
		echo $(($(now_ms) - t0)) >"$SC/index.$sc_n.ms"
		postmap -c "$PF/etc" "cdb:$SC/pf.$sc_n" || die "scale: postmap cdb: of $sc_n domains failed"
		chmod 644 "$SC/routes.$sc_n" "$SC/routes.$sc_n.cdb" "$SC/pf.$sc_n.cdb"
		# mxport-setup's routes table of this file, built as the milter's
		# reload builds it (mxport-setup postfix --update-routes), timed;
		# kept by hard links for sc_routes (it moves a new file into place)
		ln -f "$SC/routes.$sc_n" "$T_DIR/etc/routes" && ln -f "$SC/routes.$sc_n.cdb" "$T_DIR/etc/routes.cdb" ||
			die "scale: could not put the routes file of $sc_n routes in place"
		t0=$(now_ms)
		# shellcheck disable=SC2086
		"$MXPORT_BUILDDIR/setup/mxport-setup" postfix $SETUP_ARGS --update-routes >"$SC/table.$sc_n.out" 2>&1 ||
			die "scale: mxport-setup --update-routes on $sc_n routes failed: $(tail -n 3 "$SC/table.$sc_n.out")"
		echo "$sc_n $(($(now_ms) - t0))" >>"$SC/table.times"
		ln -f "$SETUP_TABLE" "$SC/mxport_routes.$sc_n" && ln -f "$SETUP_TABLE$SETUP_DB" "$SC/mxport_routes.$sc_n$SETUP_DB" ||
			die "scale: could not keep the routes table of $sc_n routes"
		[ "$(grep -vc '^#' "$SC/mxport_routes.$sc_n")" -eq "$sc_n" ] ||
			die "scale: the routes table of $sc_n routes has $(grep -vc '^#' "$SC/mxport_routes.$sc_n") entries"
	done
	SC_CUR=""
	# sc_routes N - the routes file of N routes and its index in place (hard
	# links: the index records the file's inode), mxport-setup's routes
	# table of the same file, the milter reloaded
	sc_routes() {
		[ "$SC_CUR" = "$1" ] && return 0
		ln -f "$SC/routes.$1" "$T_DIR/etc/routes" && ln -f "$SC/routes.$1.cdb" "$T_DIR/etc/routes.cdb" &&
			ln -f "$SC/mxport_routes.$1" "$SETUP_TABLE" && ln -f "$SC/mxport_routes.$1$SETUP_DB" "$SETUP_TABLE$SETUP_DB" ||
			die "scale: could not put the routes file of $1 routes in place"
		hup_milter || die "scale: the milter did not reload the routes file of $1 routes"
		"$T_DIR/bin/mxport-route" -c "$T_DIR/etc/mxport.conf" -n >"$SC/check.$1" 2>&1 ||
			die "scale: mxport-route -n on $1 routes: $(tail -n 2 "$SC/check.$1")"
		SC_CUR=$1
	}
	# the second LMTP daemon: no kept SMTP sessions (STARTTLS per connection)
	grep -v '^connection_cache_time' "$T_DIR/etc/mxport.conf" >"$T_DIR/etc/mxport-nc.conf"
	echo "connection_cache_time = 0" >>"$T_DIR/etc/mxport-nc.conf"
	chmod 644 "$T_DIR/etc/mxport-nc.conf"
	setpriv --reuid=mxport --regid=mxport --groups=postfix -- "$T_DIR/bin/mxport-transport" \
		-c "$T_DIR/etc/mxport-nc.conf" -L "unix:$T_DIR/run/lmtp-nc.sock" >>"$T_DIR/lmtp-nc.stderr" 2>&1 &
	LMTP_NC_PID=$!
	T_PIDS="$T_PIDS $LMTP_NC_PID"
	wait_for "LMTP daemon without kept sessions" test -S "$T_DIR/run/lmtp-nc.sock"
	SC_LMTP=$LMTP_PID
	# sc_daemon keep|nc - which LMTP daemon answers on lmtp.sock (the
	# socketmap names that socket): the sockets are swapped by rename
	sc_daemon() {
		want=$LMTP_PID
		[ "$1" = nc ] && want=$LMTP_NC_PID
		[ "$SC_LMTP" = "$want" ] && return 0
		mv "$T_DIR/run/lmtp.sock" "$T_DIR/run/lmtp.swap" && mv "$T_DIR/run/lmtp-nc.sock" "$T_DIR/run/lmtp.sock" &&
			mv "$T_DIR/run/lmtp.swap" "$T_DIR/run/lmtp-nc.sock" || die "scale: could not swap the LMTP daemons' sockets"
		SC_LMTP=$want
	}
	# sc_use PATH ROUTES TLS - Postfix for one pass: a (smtp(8)), b2 (default), d (discard)
	sc_use() {
		case $3 in
		plain) lvl=none reuse=no od=yes ;;
		kept) lvl=encrypt reuse=yes od=yes ;;
		conn) lvl=encrypt reuse=no od=no ;;
		*) lvl=none reuse=no od=yes ;;
		esac
		case $1 in
		a) rd="cdb:$SC/pf.$2" tm="cdb:$SC/pf.$2, $OWN_TRANSPORT" ;;
		b2) rd=$SETUP_RELAY tm=$SETUP_TMAPS ;;
		d) rd=$SETUP_RELAY tm="inline:{ {bench.example = discard:}, {plain.example = discard:}, {tls.example = discard:} }, $OWN_TRANSPORT" ;;
		esac
		postconf -c "$PF/etc" -e "smtpd_milters=" "relay_domains=$rd" "transport_maps=$tm" \
			"milter_header_checks=" "defer_transports=" "smtpd_recipient_restrictions=" \
			"smtp_tls_security_level=$lvl" "smtp_tls_connection_reuse=$reuse" \
			"smtp_connection_cache_on_demand=$od" >/dev/null || die "scale: postconf for path $1 failed"
		postfix -c "$PF/etc" reload >/dev/null 2>&1
		sleep 1
	}
	# sc_pass DIM VALUE PATH ROUND ROUTES MSGFILE COUNT RCPTS DOMAIN TLS
	sc_pass() {
		[ "$3" = b2 ] && case ${10} in conn) sc_daemon nc ;; *) sc_daemon keep ;; esac
		sc_use "$3" "$5" "${10}"
		off=$(log_size)
		coff=$(wc -c <"$T_DIR/customer/maillog" 2>/dev/null || echo 0)
		python3 "$top/bench/cpu.py" tree-snap "$SC/cpu.pf" "$MASTER" "$MILTER_PID"
		python3 "$top/bench/cpu.py" tree-snap "$SC/cpu.lmtp" "$SC_LMTP" "$MILTER_PID"
		python3 "$top/bench/cpu.py" names-snap "$SC/names.pf" "$MASTER" "$MILTER_PID"
		python3 "$top/bench/cpu.py" names-snap "$SC/names.lmtp" "$SC_LMTP" 0
		what="scale $1=$2, path $3, round $4"
		t0=$(now_ms)
		timeout "$WAIT" smtp-source -s $SESSIONS -F "$6" -m "$7" -r "$8" -f bench@sender.test -t "rcpt@$9" \
			"127.0.0.1:$PF_PORT" >"$T_DIR/source.out" 2>&1
		rc=$?
		[ $rc -eq 124 ] && die "$what: smtp-source did not finish sending $7 messages within ${WAIT}s"
		[ $rc -ne 0 ] && die "$what: smtp-source failed ($rc): $(tail -n 3 "$T_DIR/source.out")"
		wait_log "$off" "status=sent" $(($7 * $8)) "$what: deliveries"
		t=$(($(now_ms) - t0))
		pf=$(python3 "$top/bench/cpu.py" tree-diff "$SC/cpu.pf" "$MASTER" "$MILTER_PID")
		lm=$(python3 "$top/bench/cpu.py" tree-diff "$SC/cpu.lmtp" "$SC_LMTP" "$MILTER_PID")
		echo "$1 $2 $3 $4 $7 $(python3 "$top/bench/cpu.py" names-diff "$SC/names.pf" "$MASTER" "$MILTER_PID") lmtpd:$(python3 "$top/bench/cpu.py" names-diff "$SC/names.lmtp" "$SC_LMTP" 0 | tr ' ' ,)" >>"$SC/names"
		bad=$(log_count "$off" "status=\(deferred\|bounced\)")
		[ "$bad" -eq 0 ] || die "$what: $bad deliveries deferred or bounced"
		# every delivery by the agent of the path, none by another
		case $3 in a) agent="postfix/smtp\[" ;; b2) agent="postfix/lmtp\[.*relay=relay.test\[" ;; d) agent="postfix/discard\[" ;; esac
		byagent=$(tail -c +$((off + 1)) "$PF/maillog" | grep "status=sent" | grep -c "$agent")
		[ "$byagent" -ge $(($7 * $8)) ] || die "$what: only $byagent of $(($7 * $8)) deliveries by the path's agent (/$agent/)"
		# how many agent processes delivered (what qmgr's concurrency let run)
		# and deliveries (one per recipient group: the recipient limit)
		nproc=$(tail -c +$((off + 1)) "$PF/maillog" | grep "status=sent" | grep "$agent" | sed 's/.*postfix\/[a-z]*\[\([0-9]*\)\].*/\1/' | sort -u | wc -l)
		echo "$1 $2 $3 $4 $nproc" >>"$SC/agents"
		# the customer's smtpd: SMTP sessions and TLS handshakes of this pass
		# (the TLS rows; smtp-sink keeps no log), once it has logged every
		# delivery to its discard(8) (its log comes through postlogd, later)
		if [ "${10}" != - ] && [ "$3" != d ]; then
			wait_until 30 sh -c "[ \$(tail -c +$((coff + 1)) '$T_DIR/customer/maillog' | grep -c 'status=sent') -ge $(($7 * $8)) ]" ||
				die "$what: the customer's server did not log $(($7 * $8)) deliveries within 30 s"
		fi
		cc=$(tail -c +$((coff + 1)) "$T_DIR/customer/maillog" 2>/dev/null | grep -c 'smtpd.*: connect from')
		ct=$(tail -c +$((coff + 1)) "$T_DIR/customer/maillog" 2>/dev/null | grep -c 'smtpd.*TLS connection established')
		case ${10} in kept | conn) [ "$3" = d ] || [ "$ct" -gt 0 ] || die "$what: the customer saw no STARTTLS" ;; esac
		# scale DIM VALUE PATH ROUND MS MESSAGES POSTFIX_CPU_MS LMTP_CPU_MS MILTER_CPU_MS SESSIONS TLS
		echo "scale $1 $2 $3 $4 $t $7 ${pf%% *} ${lm%% *} $(echo "$pf" | cut -d' ' -f3) $cc $ct" >>"$SC_RESULTS"
		printf '%s ' "$1=$2:$3" >&2
	}
	for sz in 4096 102400 10485760; do
		python3 "$top/bench/make_message.py" "$sz" >"$SC/msg.$sz"
		chmod 644 "$SC/msg.$sz"
	done
	first=$(echo "$SC_ROUTES" | awk '{ print $1 }')
	sc_at_least() { [ "$1" -ge "$2" ] && echo "$1" || echo "$2"; }
	for r in $(seq 1 "$ROUNDS"); do
		printf 'scale round %s of %s: ' "$r" "$ROUNDS" >&2
		for dim in $SC_DIMS; do
			case $dim in
			routes)
				for sc_n in $(echo "$SC_ROUTES" | tr ' ' '\n' | sort -rn); do
					sc_routes "$sc_n"
					for p in a b2 d; do sc_pass routes "$sc_n" $p "$r" "$sc_n" "$SC/msg.4096" "$SC_N" 1 bench.example -; done
				done ;;
			size)
				sc_routes "$first"
				for sz in 4096 102400 10485760; do
					case $sz in 4096) m=$SC_N ;; 102400) m=$(sc_at_least $((SC_N / 4)) 5) ;; *) m=$(sc_at_least $((SC_N / 50)) 2) ;; esac
					for p in a b2 d; do sc_pass size "$sz" $p "$r" "$first" "$SC/msg.$sz" "$m" 1 bench.example -; done
				done ;;
			rcpt)
				sc_routes "$first"
				for k in 1 10 100; do
					case $k in 1) m=$SC_N ;; *) m=$(sc_at_least $((SC_N / 10)) 2) ;; esac
					for p in a b2 d; do sc_pass rcpt "$k" $p "$r" "$first" "$SC/msg.4096" "$m" "$k" bench.example -; done
				done ;;
			tls)
				sc_routes "$first"
				for mode in plain kept conn; do
					case $mode in plain) dom=plain.example ;; *) dom=tls.example ;; esac
					for p in a b2 d; do sc_pass tls "$mode" $p "$r" "$first" "$SC/msg.4096" "$SC_N" 1 "$dom" "$mode"; done
				done ;;
			*) die "scale: no dimension '$dim' (routes size rcpt tls)" ;;
			esac
		done
		echo >&2
	done
	sc_daemon keep
	say "8. scale: $SC_N messages a pass (4 KB), $ROUNDS interleaved rounds of (a) smtp(8), (b'') DEFAULT, (d) discard ceiling per row"
	say "   routes index: $(cat "$SC"/index.*.out | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
	say "   build time (wall), the routes index (mxport-route --index) / mxport-setup's routes table (--update-routes: mxport-route --export domains, postmap $(echo "$SETUP_DB" | sed 's/^\.db$/hash/; s/^\.//'):)"
	while read -r sc_n sc_ms; do
		say "     $sc_n routes: index $(cat "$SC/index.$sc_n.ms") ms / table $sc_ms ms"
	done <"$SC/table.times"
	say "   (b'') relay_domains = $SETUP_RELAY"
	say "   (b'') transport_maps = $SETUP_TMAPS"
	say "   qmgr limits (concurrency / recipients a delivery): smtp $(postconf -c "$PF/etc" -hx smtp_destination_concurrency_limit) / $(postconf -c "$PF/etc" -hx smtp_destination_recipient_limit) (Postfix's defaults$(postconf -c "$PF/etc" -n | grep -q '^smtp_destination' && echo ': NOT, set in main.cf')), mxport-lmtp $(postconf -c "$PF/etc" -hx mxport-lmtp_destination_concurrency_limit 2>/dev/null || echo '?') / $(postconf -c "$PF/etc" -hx mxport-lmtp_destination_recipient_limit 2>/dev/null || echo '?') (mxport-setup's${BENCH_LMTP_CONCURRENCY:+; the concurrency BENCH_LMTP_CONCURRENCY's})"
	python3 "$top/bench/summarize.py" --scale "$SC_RESULTS"
	say "   delivery agent processes that delivered in a pass (median over the rounds; the qmgr limits above):"
	python3 - "$SC/agents" <<'PYEOF'
import collections, statistics, sys
procs, order = collections.defaultdict(list), []
for line in open(sys.argv[1]):
    dim, val, p, r, n = line.split()
    if (dim, val) not in order:
        order.append((dim, val))
    procs[(dim, val, p)].append(int(n))
for dim, val in order:
    print("     %-8s %-9s %s" % (dim, val, ", ".join(
        "%s %g" % (name, statistics.median(procs[(dim, val, p)]))
        for p, name in (("a", "smtp(8)"), ("b2", "lmtp(8)"), ("d", "discard(8)")) if procs[(dim, val, p)])))
PYEOF
	say "   CPU ms a message by process (median over the rounds; Postfix's tree by name, \"reaped\" its exited processes, lmtpd: the LMTP daemon's tree):"
	python3 - "$SC/names" <<'PYEOF'
import collections, statistics, sys
cpu, order, rounds = collections.defaultdict(list), [], collections.defaultdict(set)
for line in open(sys.argv[1]):
    f = line.split()
    dim, val, p, r, m = f[0], f[1], f[2], f[3], int(f[4])
    if (dim, val) not in order:
        order.append((dim, val))
    rounds[(dim, val, p)].add(r)
    for kv in f[5:]:
        if kv.startswith("lmtpd:"):
            kv = "lmtpd=%d" % sum(int(x.split("=")[1]) for x in kv[6:].split(",") if "=" in x)
        k, v = kv.split("=")
        cpu[(dim, val, p, k)].append(int(v) / float(m))
for dim, val in order:
    for p, name in (("a", "smtp(8)"), ("b2", "default"), ("d", "discard")):
        n = len(rounds[(dim, val, p)])
        ks = sorted(set(k[3] for k in cpu if k[:3] == (dim, val, p)))
        parts = ["%s %.2f" % (k, statistics.median(cpu[(dim, val, p, k)] + [0.0] * (n - len(cpu[(dim, val, p, k)])))) for k in ks]
        print("     %-8s %-9s %-8s %s" % (dim, val, name, " ".join(x for x in parts if not x.endswith(" 0.00"))))
PYEOF
	say ""
	sc_routes "$first"
	use_path b
fi
say "bench: done"
