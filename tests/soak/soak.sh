#!/bin/sh
# soak.sh - N messages through Postfix + mxport to a customer's server that
# misbehaves on about 20% of connections (seeded: 4xx, 5xx, drops at each
# stage, stalls). When the queue has drained, every message must be
# delivered at the peer or bounced to its sender with the peer's text;
# duplicates only where the peer dropped the connection after the final dot.
# Usage (as root, from make check or bench): tests/soak/soak.sh [N [SEED [VARIANT]]]
# VARIANT: pipe (contrib/postfix, a transport run per message; the default)
# or lmtp (contrib/postfix/lmtp: the LMTP daemon, which keeps its SMTP
# session to the peer between messages, faulty sessions included).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

N=${1:-300}
SEED=${2:-42}
VARIANT=${3:-pipe}
# LMTP: the peer also drops every kept session at the fourth MAIL, so that
# sessions are replaced under load and new ones keep drawing faults.
extra=""
[ "$VARIANT" = lmtp ] && extra=", \"close_after\": 3"
start_peer chaos "{\"chaos\": {\"seed\": $SEED, \"rate\": 0.2, \"stall\": 8}$extra}"
P="$PEER_DIR"
PPORT=$PEER_PORT
start_peer senders '{}'
S="$PEER_DIR"
PS=$PEER_PORT
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="command_timeout = 4s
data_done_timeout = 4s"
setup_mxport "soak.example [127.0.0.1]:$PPORT"
start_milter
start_postfix "$PS"
postconf -c "$PF/etc" -e queue_run_delay=1s minimal_backoff_time=1s maximal_backoff_time=2s >/dev/null
if [ "$VARIANT" = lmtp ]; then
	contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
	contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/master.cf" >>"$PF/etc/master.cf"
	start_lmtp
fi
postfix -c "$PF/etc" reload >/dev/null 2>&1

start=$(now_ms)
python3 "$MXPORT_SRCDIR/tests/soak/send_many.py" 127.0.0.1 "$PF_PORT" "$N" 20 soak.example
t_ok $? "soak ($VARIANT): all $N messages accepted by the relay"
# Drain: Postfix retries on its own; flush now and then to keep it short.
deadline=$(($(date +%s) + 120 + N / 20))
while [ "$(pf_queue_count)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep 2
	pf_flush
done
t_eq "$(pf_queue_count)" 0 "soak: the queue drained ($(($(now_ms) - start)) ms)"
sleep 2
python3 "$MXPORT_SRCDIR/tests/soak/account.py" "$N" "$P" "$S" >"$T_DIR/account" 2>&1
rc=$?
sed 's/^/# /' "$T_DIR/account"
t_ok $rc "soak: nothing lost, bounces carry the customer's text, duplicates only after a drop at the dot"
grep '^soak:' "$T_DIR/account"
t_done
