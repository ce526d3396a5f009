#!/bin/sh
# soak.sh - N messages through Postfix + mxport to a customer's server that
# misbehaves on about 20% of connections (seeded: 4xx, 5xx, drops at each
# stage, stalls). When the queue has drained, every message must be
# delivered at the peer or bounced to its sender with the peer's text;
# duplicates only where the peer dropped the connection after the final dot.
# Usage (as root, from make check or bench): tests/soak/soak.sh [N [SEED [VARIANT]]]
# VARIANT: pipe (contrib/postfix/milter: milter, FILTER, a transport run per
# message; the soak's default argument),
# lmtp (contrib/postfix/lmtp: the LMTP daemon, which keeps its SMTP session
# to the peer between messages, faulty sessions included) or tmaps
# (contrib/postfix/main.cf, mxport-setup's default tmaps-lmtp: no milter,
# transport_maps to the LMTP daemon).
# Memory: when N is above SOAK_CHECKPOINT (default 10000), the first
# SOAK_CHECKPOINT messages are sent and drained first; the resident sizes of
# the milter and of the LMTP daemon (its listener, and the largest of its
# connection processes seen, sampled every 2 s) are recorded then and again
# at the end, and must not have grown by more than 10% (no leak).
# SOAK_EXTRA_CONF: more mxport.conf lines (e.g. "connection_cache_time = 0").
# A long run:
#   MXPORT_BUILDDIR=... MXPORT_SRCDIR=... sh tests/soak/soak.sh 100000 7 lmtp
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

N=${1:-300}
SEED=${2:-42}
VARIANT=${3:-pipe}
# LMTP: the peer also drops every kept session at the fourth MAIL, so that
# sessions are replaced under load and new ones keep drawing faults.
CHECKPOINT=${SOAK_CHECKPOINT:-10000}
case $VARIANT in pipe | lmtp | tmaps) ;; *) echo "Bail out! soak.sh: unknown variant '$VARIANT' (pipe, lmtp or tmaps)"; exit 99 ;; esac
extra=""
[ "$VARIANT" != pipe ] && extra=", \"close_after\": 3"
start_peer chaos "{\"chaos\": {\"seed\": $SEED, \"rate\": 0.2, \"stall\": 8}$extra}"
P="$PEER_DIR"
PPORT=$PEER_PORT
start_peer senders '{}'
S="$PEER_DIR"
PS=$PEER_PORT
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="command_timeout = 4s
data_done_timeout = 4s
postfix_transport = mxport-lmtp:unix:$T_DIR/run/lmtp.sock
${SOAK_EXTRA_CONF:-}"
setup_mxport "soak.example [127.0.0.1]:$PPORT"
start_milter
start_postfix "$PS"
postconf -c "$PF/etc" -e queue_run_delay=1s minimal_backoff_time=1s maximal_backoff_time=2s >/dev/null
LMTP_PID=""
if [ "$VARIANT" != pipe ]; then
	contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
	start_lmtp
	LMTP_PID=$(echo $T_PIDS | awk '{ print $NF }')
fi
case $VARIANT in
lmtp) contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks" ;;
tmaps)
	postconf -c "$PF/etc" -e "smtpd_milters=" "transport_maps=$(contrib_paths \
		"$MXPORT_SRCDIR/contrib/postfix/main.cf" | sed -n 's/^transport_maps = //p'), $(postconf -c "$PF/etc" -h transport_maps)" >/dev/null
	;;
esac
postfix -c "$PF/etc" reload >/dev/null 2>&1

rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# the largest resident size among the LMTP daemon's connection processes, every 2 s
: >"$T_DIR/lmtp_children.rss"
if [ -n "$LMTP_PID" ]; then
	(while kill -0 "$LMTP_PID" 2>/dev/null; do
		m=0
		for c in $(ps -o pid= --ppid "$LMTP_PID" 2>/dev/null); do
			r=$(rss "$c")
			[ "${r:-0}" -gt "$m" ] && m=$r
		done
		echo "$m" >>"$T_DIR/lmtp_children.rss"
		sleep 2
	done) &
	T_PIDS="$T_PIDS $!"
fi
# child_max - the largest child size sampled since the last call
child_max() {
	m=$(sort -n "$T_DIR/lmtp_children.rss" | tail -n 1)
	: >"$T_DIR/lmtp_children.rss"
	echo "${m:-0}"
}
# rss_line WHEN - the sizes now, as one line
rss_line() {
	line="rss $1: milter $(rss "$MILTER_PID") kB"
	[ -n "$LMTP_PID" ] && line="$line, LMTP daemon $(rss "$LMTP_PID") kB, largest LMTP connection process $(child_max) kB"
	echo "$line"
}

start=$(now_ms)
# send_phase FIRST COUNT - messages FIRST..COUNT-1, then drain the queue
send_phase() {
	python3 "$MXPORT_SRCDIR/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$2" 20 soak.example "$1"
	t_ok $? "soak ($VARIANT): messages $1 to $(($2 - 1)) accepted by the relay"
	# Drain: Postfix retries on its own; flush now and then to keep it short.
	deadline=$(($(date +%s) + 120 + ($2 - $1) / 20))
	while [ "$(pf_queue_count)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 2
		pf_flush
	done
	t_eq "$(pf_queue_count)" 0 "soak: the queue drained after message $(($2 - 1)) ($(($(now_ms) - start)) ms since the start)"
}
if [ "$N" -gt "$CHECKPOINT" ]; then
	send_phase 0 "$CHECKPOINT"
	rss_line "after $CHECKPOINT" | tee "$T_DIR/rss.1" | sed 's/^/# /'
	send_phase "$CHECKPOINT" "$N"
	rss_line "after $N" | tee "$T_DIR/rss.2" | sed 's/^/# /'
	# growth OLD NEW - 0 when NEW is within 10% of OLD
	grown() { [ "$2" -le $(($1 + $1 / 10)) ]; }
	m1=$(sed 's/.*milter \([0-9]*\) kB.*/\1/' "$T_DIR/rss.1")
	m2=$(sed 's/.*milter \([0-9]*\) kB.*/\1/' "$T_DIR/rss.2")
	grown "$m1" "$m2"
	t_ok $? "soak: the milter's resident size after $N messages ($m2 kB) is within 10% of that after $CHECKPOINT ($m1 kB)"
	if [ -n "$LMTP_PID" ]; then
		l1=$(sed 's/.*LMTP daemon \([0-9]*\) kB.*/\1/' "$T_DIR/rss.1")
		l2=$(sed 's/.*LMTP daemon \([0-9]*\) kB.*/\1/' "$T_DIR/rss.2")
		c1=$(sed 's/.*process \([0-9]*\) kB.*/\1/' "$T_DIR/rss.1")
		c2=$(sed 's/.*process \([0-9]*\) kB.*/\1/' "$T_DIR/rss.2")
		grown "$l1" "$l2"
		t_ok $? "soak: the LMTP daemon's resident size after $N messages ($l2 kB) is within 10% of that after $CHECKPOINT ($l1 kB)"
		grown "$c1" "$c2"
		t_ok $? "soak: its largest connection process after $N ($c2 kB) is within 10% of the largest up to $CHECKPOINT ($c1 kB)"
	fi
else
	send_phase 0 "$N"
	rss_line "after $N" | sed 's/^/# /'
fi
sleep 2
python3 "$MXPORT_SRCDIR/tests/soak/account.py" "$N" "$P" "$S" >"$T_DIR/account" 2>&1
rc=$?
sed 's/^/# /' "$T_DIR/account"
t_ok $rc "soak: nothing lost, bounces carry the customer's text, duplicates only after a drop at the dot"
grep '^soak:' "$T_DIR/account"
t_done
