#!/bin/sh
# test_notice_bomb - outage notices cannot be turned into a mail bomb with
# the attacker's words (issue 18, finding 3). A ".wild.example ...
# notify=" route whose server is healthy but answers 450 4.1.2 for
# subdomains it does not know (as Postfix does): 20 subdomains an outsider
# chose, each deferred twice across notify_after, open no outage, leave no
# state file and send no notice (the old code: 20 notices, "Mail for
# click-here-for-your-refund-13.wild.example is waiting", 40 files). The
# server really down: one outage for the route, whatever subdomains the
# mail was for, one notice naming the route as the admin wrote it; back
# up: the recovery notice, and the state directory is empty again (.lock
# files too). A sendmail(1) that takes 20 s does not hold the delivery.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv pgrep

. "$MXPORT_SRCDIR/tests/lib/transport.sh"
STATE="$T_DIR/state"
NOTICES="$T_DIR/notices"
mkdir -p "$STATE" "$NOTICES"
chown nobody "$STATE" "$NOTICES"
notice_sink
printf 'Subject: plain\r\n\r\nhello\r\n' >"$T_DIR/plain"

start_peer wild '{"rcpt_match": [["u@click-.*", "450 4.1.2 <u@click>: Recipient address rejected: Domain not found"]]}'
PORT=$PEER_PORT
printf '%s\n' ".wild.example [127.0.0.1]:$PORT notify=owner@elsewhere.test" >"$T_DIR/routes"
CONF="$T_DIR/mxport.conf"
{
	echo "routes_file = $T_DIR/routes"
	echo "allowed_networks = 127.0.0.0/8"
	echo "log_file = $LOG"
	echo "dns_servers = 127.0.0.1:9"
	echo "dns_timeout = 1s"
	echo "connect_timeout = 2s"
	echo "command_timeout = 3s"
	echo "notify_after = 2s"
	echo "state_directory = $STATE"
	echo "sendmail_path = $T_DIR/sendmail"
	echo "helo_name = relay.test"
} >"$CONF"
chmod 644 "$CONF" "$T_DIR/routes"

# xport QUEUE_ID RCPT... - one run as pipe(8) would; sets RC
xport() {
	qid=$1
	shift
	as_user "$TRANSPORT" -c "$CONF" -q "$qid" -f alice@sender.test -- "$@" \
		<"$T_DIR/plain" >"$T_DIR/xout" 2>&1
	RC=$?
}
notices() {
	ls "$NOTICES" | grep -c '^notice\..*\.eml$'
}
state_files() {
	ls -A "$STATE/notify" 2>/dev/null | wc -l
}
# past MS - wait until that moment (the clock, not a guess)
past() {
	while [ "$(now_ms)" -lt "$1" ]; do sleep 0.1; done
}

# --- 20 subdomains of the attacker's choosing, each twice across notify_after ---
t0=$(now_ms)
for n in $(seq 1 20); do
	xport "A$n" "u@click-here-for-your-refund-$n.wild.example"
done
t_eq "$RC" 75 "450 4.1.2 to a made-up subdomain: deferred"
past $((t0 + 2500))
for n in $(seq 1 20); do
	xport "B$n" "u@click-here-for-your-refund-$n.wild.example"
done
notices_settle 40
t_eq "$(notices)" 0 "40 deferrals of 20 made-up subdomains (recipient-level 450): no notice"
t_eq "$(state_files)" 0 "... and no outage, no state file"
t_nogrep "$LOG" "notify: click-here" "... and no log line naming the attacker's labels as an outage"

# --- the server itself down: one outage for the route --------------------------
stop_peer wild
t0=$(now_ms)
xport D1 real@a1.wild.example
t_eq "$RC" 75 "server down: deferred"
xport D2 real@a2.wild.example
t_ok "$([ "$(state_files)" -le 2 ]; echo $?)" "two subdomains, one outage: $(ls "$STATE/notify" | tr '\n' ' ')"
t_ok "$([ -f "$STATE/notify/_wild.example" ]; echo $?)" "... kept as the route's (_wild.example)"
past $((t0 + 2500))
xport D3 real@a1.wild.example
notices_settle 40
t_eq "$(notices)" 1 "after notify_after: one notice"
N=$(ls "$NOTICES"/notice.*.eml | sort | tail -1)
t_grep "$N" '^Subject: Mail for \.wild\.example is waiting' "the notice names the route as the admin wrote it"
t_nogrep "$N" 'a[123]\.wild\.example' "... never a subdomain the mail was for"
t_grep "$N" '^Messages waiting:  3 ' "... and counts the three messages"

# --- notices are off the delivery path ------------------------------------------
start_peer wild2 "{\"port\": $PORT}"
touch "$T_DIR/sendmail.slow"
t0=$(now_ms)
xport U1 real@a1.wild.example
ms=$(($(now_ms) - t0))
t_eq "$RC" 0 "server back: delivered"
t_ok "$([ "$ms" -lt 10000 ]; echo $?)" "a sendmail(1) that takes 20 s does not hold the delivery (${ms} ms)"
notices_settle 40
t_eq "$(notices)" 2 "the recovery notice was queued all the same"
t_eq "$(state_files)" 0 "outage closed: no state file, no .lock left"
t_grep "$LOG" 'U1: notify: \.wild\.example: deliveries succeed again' "the recovery is logged with the route's name"

t_done
