#!/bin/sh
# test_lmtp_inet - "mxport-transport -L inet:PORT@HOST" trusts no stranger
# (issue 18, finding 5). Without lmtp_inet_clients the daemon refuses to
# start (78) and says why; the old code listened, and any local user
# (nobody) connected, sent "XFORWARD ADDR=203.0.113.7" and a RCPT for a
# customer, and the mail was relayed with the forged attributes. With
# lmtp_inet_clients = 127.0.0.2/32: a client from 127.0.0.1 is closed
# without a word (logged), and one from 127.0.0.2 is served, its XFORWARD
# passed on.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv /usr/bin/python3

TRANSPORT="$MXPORT_BUILDDIR/mxport-transport"
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
start_peer cust '{"ehlo": ["PIPELINING", "XFORWARD NAME ADDR PROTO HELO SOURCE", "8BITMIME"]}'
CUST=$PEER_DIR
printf '%s\n' "other.example [127.0.0.1]:$PEER_PORT" >"$T_DIR/routes"
LPORT=$(free_port)
conf() {
	{
		echo "routes_file = $T_DIR/routes"
		echo "allowed_networks = 127.0.0.0/8"
		echo "log_file = $LOG"
		echo "dns_servers = 127.0.0.1:9"
		echo "helo_name = relay.test"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/mxport.conf"
	chmod 644 "$T_DIR/mxport.conf" "$T_DIR/routes"
}
# session SOURCE - an LMTP client from SOURCE (as user nobody), a forged
# XFORWARD and a message for the customer; prints what it was answered
session() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 - "$LPORT" "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20,
                                 source_address=(sys.argv[2], 0))
except OSError as e:
    print("CONNECT", e); sys.exit(0)
f = s.makefile("rwb")
def reply():
    while True:
        line = f.readline().decode(errors="replace")
        if not line:
            return "EOF"
        if line[3:4] != "-":
            return line.strip()
def cmd(c):
    try:
        f.write(c.encode() + b"\r\n"); f.flush()
    except OSError:
        return "EOF"
    return reply()
print("GREETING", reply())
print("LHLO", cmd("LHLO attacker.test"))
print("XFORWARD", cmd("XFORWARD ADDR=203.0.113.7 NAME=forged.test"))
print("MAIL", cmd("MAIL FROM:<a@attacker.test>"))
print("RCPT", cmd("RCPT TO:<victim@other.example>"))
if cmd("DATA").startswith("354"):
    f.write(b"Subject: forged\r\n\r\nhello\r\n.\r\n"); f.flush()
    print("DOT", reply())
cmd("QUIT")
PY
}
exited() {
	! kill -0 "$1" 2>/dev/null
}

# --- no allow list: refused at start ----------------------------------------------
conf
setpriv --reuid=nobody --regid=nogroup --groups=postfix -- \
	"$TRANSPORT" -c "$T_DIR/mxport.conf" -L "inet:$LPORT@127.0.0.1" >"$T_DIR/l1.out" 2>&1 &
L1=$!
T_PIDS="$T_PIDS $L1"
n=0
while ! exited "$L1" && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
t_ok "$(exited "$L1"; echo $?)" "-L inet: without lmtp_inet_clients: the daemon does not start"
session 127.0.0.1 >"$T_DIR/s1" 2>&1
exited "$L1" || kill "$L1"
wait "$L1"
t_eq "$?" 78 "... exit 78 (EX_CONFIG)"
t_grep "$T_DIR/l1.out" "lmtp_inet_clients" "... and says which key to set"
t_nogrep "$T_DIR/s1" "^GREETING 220" "nobody connecting gets no LMTP service"
t_eq "$(count_msgs "$CUST")" 0 "... and relays nothing"

# --- an allow list: only its clients ---------------------------------------------------
conf "lmtp_inet_clients = 127.0.0.2/32"
setpriv --reuid=nobody --regid=nogroup --groups=postfix -- \
	"$TRANSPORT" -c "$T_DIR/mxport.conf" -L "inet:$LPORT@127.0.0.1" >"$T_DIR/l2.out" 2>&1 &
L2=$!
T_PIDS="$T_PIDS $L2"
wait_for "LMTP on TCP" python3 -c "import socket; socket.create_connection(('127.0.0.1', $LPORT)).close()"
session 127.0.0.1 >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^GREETING EOF" "a client not in lmtp_inet_clients: closed without a word"
t_eq "$(count_msgs "$CUST")" 0 "... its forged XFORWARD and RCPT relay nothing"
t_grep "$LOG" "lmtp: connection from 127\\.0\\.0\\.1 refused: not in lmtp_inet_clients" "... logged"
session 127.0.0.2 >"$T_DIR/s3" 2>&1
t_grep "$T_DIR/s3" "^DOT 250 " "a client in lmtp_inet_clients: served"
wait_for "the message at the customer" have_msgs "$CUST" 1
t_grep "$CUST/session.1" "^XFORWARD .*ADDR=203\\.0\\.113\\.7" "... its XFORWARD is honoured"
kill -0 "$L2"
t_ok $? "the daemon still runs"
kill "$L2"

t_done
