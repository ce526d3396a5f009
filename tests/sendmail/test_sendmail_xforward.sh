#!/bin/sh
# test_sendmail_xforward - Sendmail's side of issue 14: the mxport mailer of
# contrib/sendmail passes the original client (${client_addr}, ${client_name},
# $s, $r) and the transport sends it with XFORWARD, both at once and from the
# queue; mxport-queue reads Sendmail's queue and --flush runs it for a domain.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/sendmail.sh"
need python3

start_peer xf '{"ehlo": ["PIPELINING", "XFORWARD NAME ADDR PROTO HELO SOURCE", "8BITMIME"]}'
PX=$PEER_PORT
X="$PEER_DIR"
start_peer senders '{"host": "127.0.0.2"}'
PS=$PEER_PORT
DOWN=$(free_port)
SM_PORT=$(free_port)
PF_PORT=$SM_PORT # setup_mxport's loop guard: this relay's own port
setup_mxport "xf.example [127.0.0.1]:$PX
down.example [127.0.0.1]:$DOWN"
start_milter
start_sendmail "$PS"
cp "$MXPORT_BUILDDIR/mxport-queue" "$T_DIR/bin/"
MXPORT_ROUTE="$T_DIR/bin/mxport-route"
export MXPORT_ROUTE
# the private sendmail as mxport-queue runs it (sm_exec: a qualified host name)
printf '#!/bin/sh\nexec unshare -u sh -c '"'"'hostname relay.test && exec "$0" "$@"'"'"' "%s" "$@"\n' "$SM/sendmail" >"$T_DIR/bin/sm"
chmod 755 "$T_DIR/bin/sm"
mxq() {
	"$T_DIR/bin/mxport-queue" -c "$T_DIR/etc/mxport.conf" --mta sendmail --sendmail "$T_DIR/bin/sm" -C "$SM/sendmail.cf" "$@"
}

send_sm alice@sender.test bob@xf.example >"$T_DIR/s1" 2>&1
t_ok $? "message from 127.0.0.3 accepted by Sendmail"
wait_until 30 have_msgs "$X" 1
cat "$X"/session.* >"$T_DIR/xf.cmds"
t_grep "$T_DIR/xf.cmds" "^XFORWARD NAME=[^ ]+ ADDR=127\\.0\\.0\\.3 PROTO=E?SMTP HELO=client\\.test SOURCE=REMOTE$" "the original client's address and HELO go with XFORWARD"

# From the queue: the customer's server down, then up, and a flush.
send_sm alice@sender.test carl@down.example >"$T_DIR/s2" 2>&1
wait_until 20 grep -q "to=<carl@down\\.example>.*status=deferred" "$MXLOG"
sleep 1
mxq --json >"$T_DIR/q.json"
t_eq "$?" 0 "mxport-queue --json on Sendmail: exit 0"
t_eq "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print([(d["domain"], d["messages"], d["recipients"]) for d in j["domains"]])' "$T_DIR/q.json")" "[('down.example', 1, 1)]" "mxport-queue: Sendmail's queue per forwarded domain"
t_eq "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); d=j["domains"][0]; print(0 <= d["oldest_age"] < 180 and d["size"] > 0 and d["last_error"] != "")' "$T_DIR/q.json")" True "mxport-queue: age, size and the last error"
start_peer xfdown "{\"port\": $DOWN, \"ehlo\": [\"XFORWARD ADDR HELO\"]}"
D="$PEER_DIR"
mxq --flush down.example >"$T_DIR/f1" 2>&1
t_eq "$?" 0 "mxport-queue --flush on Sendmail: exit 0"
wait_until 30 have_msgs "$D" 1
t_eq "$(count_msgs "$D")" 1 "--flush: delivered from the queue"
cat "$D"/session.* >"$T_DIR/down.cmds"
t_grep "$T_DIR/down.cmds" "^XFORWARD ADDR=127\\.0\\.0\\.3 HELO=client\\.test$" "from the queue: Sendmail kept the client's address and HELO for the mailer"

t_done
