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
# SOAK_FAULTS=yes: while the messages are sent, faults come in turn, one
# each time another N/30 messages were accepted: a good edit of the routes
# file (a route added; the milter reloads), a bad one (a line that does not
# parse: the milter's reload and the LMTP daemon refuse it and keep the last
# good routes; it is mended at once), kill -9 of an LMTP connection process,
# of the LMTP daemon (restarted) and of the milter (restarted), and the
# customer's server going away (until deferrals show) and coming back. Nothing
# may be lost; a duplicate is allowed for a drop after the dot, and for
# each process killed that may have died after the customer took a message
# (a connection process, the customer's server). The memory check is left
# out then (the daemons are new processes).
# A long run:
#   MXPORT_BUILDDIR=... MXPORT_SRCDIR=... sh tests/soak/soak.sh 100000 7 lmtp
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

N=${1:-300}
SEED=${2:-42}
VARIANT=${3:-pipe}
FAULTS=${SOAK_FAULTS:-no}
# LMTP: the peer also drops every kept session at the fourth MAIL, so that
# sessions are replaced under load and new ones keep drawing faults.
CHECKPOINT=${SOAK_CHECKPOINT:-10000}
case $VARIANT in pipe | lmtp | tmaps) ;; *) echo "Bail out! soak.sh: unknown variant '$VARIANT' (pipe, lmtp or tmaps)"; exit 99 ;; esac
extra=""
[ "$VARIANT" != pipe ] && extra=", \"close_after\": 3"
CHAOS="{\"chaos\": {\"seed\": $SEED, \"rate\": 0.2, \"stall\": 8}$extra"
start_peer chaos "$CHAOS}"
P="$PEER_DIR"
PPORT=$PEER_PORT
PEERS="$P" # every folder the customer's server recorded into (it may be restarted)
PEER_NAME=chaos
CRASHES=0
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
# lmtp_up - start the LMTP daemon and wait for its word (a killed one's
# socket may still be there); its pid in LMTP_PID
lmtp_up() {
	n=$(grep -c 'lmtp: listening on' "$MXLOG")
	start_lmtp
	LMTP_PID=$(echo $T_PIDS | awk '{ print $NF }')
	wait_until 30 sh -c "[ \$(grep -c 'lmtp: listening on' '$MXLOG') -gt $n ]"
}
if [ "$VARIANT" != pipe ]; then
	contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
	lmtp_up
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

# --- Faults (SOAK_FAULTS=yes)
GOOD_ROUTES=$(cat "$T_DIR/etc/routes")
: >"$T_DIR/faults.done"
accepted() {
	grep -c 'postfix/cleanup.*message-id=<soak-' "$PF/maillog"
}
accepted_at_least() {
	[ "$(accepted)" -ge "$1" ]
}
deferred_above() {
	[ "$(grep -c 'status=deferred' "$PF/maillog")" -gt "$1" ]
}
milter_refusals() {
	grep -c 'reload: .* error(s); keeping the configuration in force' "$T_DIR/milter.stderr"
}
milter_refusals_above() {
	[ "$(milter_refusals)" -gt "$1" ]
}
# conn_processes - this run's LMTP connection processes (a killed
# listener's too, while they finish their connections)
conn_processes() {
	ps -eo pid=,args= | awk -v pat="mxport-transport -c $T_DIR/etc/mxport.conf -L " \
		-v me="$LMTP_PID" '$2 ~ /\/mxport-transport$/ && index($0, pat) && $1 != me { print $1 }'
}
# fault K - the K-th fault of the cycle, undone before it returns
fault() {
	kind=$(($1 % 6))
	[ "$VARIANT" = pipe ] && [ "$kind" -ge 2 ] && [ "$kind" -le 3 ] && kind=0
	case $kind in
	0)
		printf '%s\ngood%s.example [127.0.0.1]:%s\n' "$GOOD_ROUTES" "$1" "$PPORT" >"$T_DIR/etc/routes"
		hup_milter
		echo "routes_good_edit" >>"$T_DIR/faults.done"
		;;
	1)
		n=$(milter_refusals)
		m=$(grep -c "25x27' is not a port number" "$MXLOG")
		echo "bad$1.example [127.0.0.1]:25x27" >>"$T_DIR/etc/routes"
		kill -HUP "$MILTER_PID"
		wait_until 10 milter_refusals_above "$n"
		# the LMTP daemon (if any) refuses it too: its listener looks every 5 s
		[ "$VARIANT" = pipe ] || wait_until 15 sh -c "[ \$(grep -c \"25x27' is not a port number\" '$MXLOG') -gt $m ]"
		printf '%s\n' "$GOOD_ROUTES" >"$T_DIR/etc/routes"
		hup_milter
		echo "routes_bad_edit" >>"$T_DIR/faults.done"
		;;
	2)
		c=$(conn_processes | tail -n 1)
		if [ -n "$c" ] && kill -9 "$c" 2>/dev/null; then
			CRASHES=$((CRASHES + 1))
			echo "kill_lmtp_process" >>"$T_DIR/faults.done"
		fi
		;;
	3)
		old=$LMTP_PID
		kill -9 "$old"
		wait_until 20 sh -c "! kill -0 $old"
		lmtp_up
		t_ok $? "soak: the LMTP daemon restarted after kill -9 (fault $1)"
		echo "kill_lmtp_daemon" >>"$T_DIR/faults.done"
		;;
	4)
		kill -9 "$MILTER_PID"
		wait "$MILTER_PID" 2>/dev/null
		rm -f "$T_DIR/run/milter.sock" "$T_DIR/run/socketmap.sock"
		start_milter
		echo "kill_milter" >>"$T_DIR/faults.done"
		;;
	5)
		n=$(grep -c 'status=deferred' "$PF/maillog")
		stop_peer "$PEER_NAME"
		CRASHES=$((CRASHES + 1))
		wait_until 20 deferred_above "$n"
		PEER_NAME=chaos$1
		start_peer "$PEER_NAME" "$CHAOS, \"port\": $PPORT}"
		PEERS="$PEERS:$PEER_DIR"
		echo "customer_server_away" >>"$T_DIR/faults.done"
		;;
	esac
}

start=$(now_ms)
k=0
# send_phase FIRST COUNT - messages FIRST..COUNT-1, then drain the queue
send_phase() {
	if [ "$FAULTS" = yes ]; then
		# Fewer sessions: the run lasts long enough for the faults to come in turn.
		# A client retries a 4xx for 90 s: after the milter's restart Postfix's
		# resolver client may remember the socketmap's failure for 30 s.
		SEND_MANY_ATTEMPTS=180 python3 "$MXPORT_SRCDIR/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$2" \
			"${SOAK_SESSIONS:-5}" soak.example "$1" &
		sender=$!
		step=$((($2 - $1) / 30 + 1))
		next=$(($(accepted) + step))
		while kill -0 "$sender" 2>/dev/null; do
			wait_until 600 sh -c "! kill -0 $sender || [ \$(grep -c 'postfix/cleanup.*message-id=<soak-' '$PF/maillog') -ge $next ]"
			kill -0 "$sender" 2>/dev/null || break
			fault "$k"
			k=$((k + 1))
			next=$(($(accepted) + step))
		done
		wait "$sender"
		rc=$?
		# A short run: the rest of the cycle while the queue drains.
		while [ "$k" -lt 6 ]; do
			fault "$k"
			k=$((k + 1))
		done
		(exit $rc)
	else
		python3 "$MXPORT_SRCDIR/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$2" 20 soak.example "$1"
	fi
	t_ok $? "soak ($VARIANT): messages $1 to $(($2 - 1)) accepted by the relay"
	# Drain: Postfix retries on its own; flush now and then to keep it short.
	deadline=$(($(date +%s) + 120 + ($2 - $1) / 20))
	while [ "$(pf_queue_count)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 2
		pf_flush
	done
	t_eq "$(pf_queue_count)" 0 "soak: the queue drained after message $(($2 - 1)) ($(($(now_ms) - start)) ms since the start)"
}
if [ "$N" -gt "$CHECKPOINT" ] && [ "$FAULTS" != yes ]; then
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
python3 "$MXPORT_SRCDIR/tests/soak/account.py" "$N" "$PEERS" "$S" "$CRASHES" >"$T_DIR/account" 2>&1
rc=$?
sed 's/^/# /' "$T_DIR/account"
if [ "$FAULTS" = yes ]; then
	echo "# relay faults injected: $(sort "$T_DIR/faults.done" | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep = ", " }')"
	t_ok "$([ "$(grep -c . "$T_DIR/faults.done")" -ge 6 ]; echo $?)" "soak: every kind of fault was injected"
fi
t_ok $rc "soak: nothing lost, bounces carry the customer's text, duplicates only after a drop at the dot"
grep '^soak:' "$T_DIR/account"
t_done
