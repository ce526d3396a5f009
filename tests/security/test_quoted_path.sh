#!/bin/sh
# test_quoted_path - quoted local parts (RFC 5321 4.1.2: '>', '@', spaces
# and \" are ordinary bytes inside quotes) on the default path, end to end:
# an outside client -> a private Postfix (socketmap relay and verify
# tables, transport_maps) -> its lmtp(8) -> mxport-transport -L -> the
# customer's server. The recipient and the sender must reach the customer
# byte for byte as the client wrote them, in the callout too; on the old
# code the LMTP front cut the path at the first '>' (550 5.1.3 <"v>, and a
# sender "s>x"@src.example reached the customer as MAIL FROM:<"s>).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix postconf setpriv

start_peer cust '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
PF_PORT=$(free_port)
MXPORT_CONTRIB=default
export MXPORT_CONTRIB
setup_mxport "fwd.example [127.0.0.1]:$PA verify=yes"
start_milter
start_postfix "$PS"
postconf -c "$PF/etc" -e \
	"smtpd_recipient_restrictions=check_recipient_access socketmap:unix:$T_DIR/run/socketmap.sock:verify"
postfix -c "$PF/etc" reload >/dev/null 2>&1
start_lmtp

# raw FROM RCPT... - one message by raw SMTP (smtplib would requote the
# addresses); prints every reply
raw() {
	python3 - "$PF_PORT" "$@" <<'PYEOF'
import socket, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            break
    print(" | ".join(lines))
    return lines[-1][:3]
def cmd(c):
    s.sendall(c.encode() + b"\r\n")
    return reply()
reply()
cmd("EHLO client.test")
cmd("MAIL FROM:<%s>" % sender)
ok = [r for r in rcpts if cmd("RCPT TO:<%s>" % r) == "250"]
if ok and cmd("DATA") == "354":
    s.sendall(b"Subject: quoted\r\n\r\nhello\r\n.\r\n")
    reply()
cmd("QUIT")
PYEOF
}

n=0
for rcpt in '"v>x"@fwd.example' '"a b"@fwd.example' '"\""@fwd.example'; do
	n=$((n + 1))
	raw '"s>x"@sender.test' "$rcpt" >"$T_DIR/raw.$n" 2>&1
	t_grep "$T_DIR/raw.$n" '^250 .*queued' "Postfix takes $rcpt"
	wait_until 30 have_msgs "$A" "$n"
	env=$(ls -t "$A"/env.* 2>/dev/null | head -1)
	t_eq "$(grep '^RCPT' "$env")" "RCPT TO:<$rcpt>" "the customer gets RCPT TO:<$rcpt> byte for byte"
	t_eq "$(grep '^MAIL' "$env" | sed 's/> .*/>/')" 'MAIL FROM:<"s>x"@sender.test>' \
		"... and the sender \"s>x\"@sender.test whole (the bounce path)"
	t_ok "$(grep -lF "RCPT TO:<$rcpt>" "$A"/session.* | xargs grep -l '^MAIL FROM:<>' | grep -q .
		echo $?)" "... and the callout asked for it byte for byte"
done
t_nogrep "$PF/maillog" "bad recipient address syntax" "no recipient bounced as bad syntax"
t_eq "$(count_msgs "$S")" 0 "no bounce went to the sender"

t_done
