#!/bin/sh
# test_transport_hostile - the transport at the extremes of what it is
# handed and what it is told: addresses of 2,000 bytes, thousands of
# recipients, a server that takes two recipients a transaction, lines of
# 5,000 bytes to a strict server, a 554 greeting, a 70 KB reply line,
# replies and addresses that try to forge log lines. Real peers (the
# scripted SMTP peer), both fronts (pipe and LMTP).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"

# conf ROUTES [EXTRA...] - mxport.conf with one routes file
conf() {
	printf '%s\n' "$1" >"$T_DIR/routes"
	shift
	{
		echo "routes_file = $T_DIR/routes"
		echo "allowed_networks = 127.0.0.0/8"
		echo "log_file = $LOG"
		echo "dns_servers = 127.0.0.1:9"
		echo "tls_mode = none"
		echo "command_timeout = 5s"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/mxport.conf"
	chmod 644 "$T_DIR/mxport.conf" "$T_DIR/routes"
	: >"$LOG"
	chmod 666 "$LOG"
}

# xport MSGFILE SENDER RCPT... - the pipe front; sets RC and OUT
xport() {
	msgf=$1
	sender=$2
	shift 2
	as_user "$TRANSPORT" -c "$T_DIR/mxport.conf" -q TESTQ -f "$sender" -- "$@" <"$msgf" \
		>"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}

# lmtp MSGFILE RCPT... - the LMTP front, one message; replies in $T_DIR/lout
lmtp() {
	msgf=$1
	shift
	python3 "$MXPORT_SRCDIR/tests/lib/lmtpmsg.py" alice@sender.test "$msgf" "$@" -- \
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$TRANSPORT" -c "$T_DIR/mxport.conf" -L - >"$T_DIR/lout" 2>"$T_DIR/lerr"
	RC=$?
}

printf 'Subject: plain\r\n\r\nhello\r\n' >"$T_DIR/plain"

# --- 1. addresses of any length, pipelined (the heap overflow) ------------
long_local=$(python3 -c 'print("r" * 2000)')
long_sender="$(python3 -c 'print("s" * 1500)')@sender.test"
start_peer longaddr '{}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" "$long_sender" "$long_local@example.com" "short@example.com"
t_eq "$RC" 0 "2,000-byte recipient and 1,500-byte sender, pipelined: delivered"
t_ok "$([ ! -e "$PEER_DIR/nul" ]; echo $?)" "long addresses: no NUL byte (no heap bytes) reached the server"
t_grep "$PEER_DIR/env.1" "^MAIL FROM:<$long_sender> SIZE=[0-9]+\$" "long sender relayed intact"
t_grep "$PEER_DIR/env.1" "^RCPT TO:<$long_local@example\\.com>\$" "long recipient relayed intact"
t_grep "$PEER_DIR/env.1" "^RCPT TO:<short@example\\.com>\$" "the other recipient too"
t_eq "$(grep -c '^' "$PEER_DIR/session.1")" 6 "long addresses: six command lines (EHLO, MAIL, 2 RCPT, DATA, QUIT), none split"

start_peer longaddr_nopipe '{"ehlo": ["SIZE 100000000", "8BITMIME"]}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" "$long_sender" "$long_local@example.com"
t_eq "$RC" 0 "long addresses without PIPELINING: delivered"
t_grep "$PEER_DIR/env.1" "^RCPT TO:<$long_local@example\\.com>\$" "long recipient intact without PIPELINING"

# An address with a control character could end the command line early.
conf "example.com [127.0.0.1]:$PEER_PORT"
esc=$(printf '"v\033[31m"@example.com')
xport "$T_DIR/plain" alice@sender.test "$esc"
t_eq "$RC" 69 "recipient with ESC: bounced (RFC 5321 allows no control characters)"
t_eq "$(printf '%s' "$OUT" | cut -c1-6)" "5.1.3 " "recipient with ESC: 5.1.3"
t_nogrep "$LOG" "$(printf '\033')" "no raw ESC in the log"
t_grep "$LOG" 'to=<"v\?\[31m"@example\.com>' "ESC logged as ?"

# --- 2. thousands of recipients -------------------------------------------
start_peer many '{}'
conf "example.com [127.0.0.1]:$PEER_PORT"
rcpts=$(python3 -c 'print(" ".join("u%d@example.com" % i for i in range(2500)))')
# shellcheck disable=SC2086
xport "$T_DIR/plain" alice@sender.test $rcpts
t_eq "$RC" 0 "2,500 recipients in one pipe run: delivered (no stack overflow)"
t_eq "$(cat "$PEER_DIR"/env.1* | grep -c '^RCPT TO:')" 2500 "2,500 recipients: each named once"
t_eq "$(cat "$PEER_DIR"/env.1* | grep '^RCPT TO:' | sort -u | wc -l)" 2500 "2,500 recipients: no one twice"
t_eq "$(ls "$PEER_DIR" | grep -c '^msg\.1')" 25 "2,500 recipients: 25 transactions of transaction_recipient_limit = 100"
t_eq "$(grep -c 'status=sent' "$LOG")" 2500 "2,500 recipients: a log line each"

# The LMTP front: the same many, and a limit with 452 4.5.3 beyond it.
stop_peer many
start_peer many2 '{}'
conf "example.com [127.0.0.1]:$PEER_PORT" "lmtp_recipient_limit = 2000"
# shellcheck disable=SC2086
lmtp "$T_DIR/plain" $rcpts
t_eq "$RC" 0 "LMTP, 2,500 recipients: the session ran to its end"
t_eq "$(grep -c '^RCPT .* 250 ' "$T_DIR/lout")" 2000 "LMTP: 2,000 recipients accepted (lmtp_recipient_limit)"
t_eq "$(grep -c '^RCPT .* 452 4\.5\.3 ' "$T_DIR/lout")" 500 "LMTP: the 500 beyond it get 452 4.5.3"
t_eq "$(grep -c '^DATA .* 250 ' "$T_DIR/lout")" 2000 "LMTP: 2,000 delivered, one reply each"
t_eq "$(cat "$PEER_DIR"/env.1* | grep -c '^RCPT TO:')" 2000 "LMTP: the customer saw 2,000 recipients"

# --- 3. 452 too many recipients (RFC 5321 4.5.3.1.10) ---------------------
start_peer limit2 '{"rcpt_limit": 2}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test a@example.com b@example.com c@example.com d@example.com e@example.com
t_eq "$RC" 0 "server takes 2 a transaction, 5 recipients: all delivered"
t_eq "$(ls "$PEER_DIR" | grep -c '^msg\.1')" 3 "452 after 2: three transactions on one connection"
t_eq "$(cat "$PEER_DIR"/env.1* | grep -c '^RCPT TO:')" 5 "452 after 2: each recipient in exactly one transaction"

start_peer limit2_nopipe '{"rcpt_limit": 2, "ehlo": ["SIZE 100000000"]}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test a@example.com b@example.com c@example.com
t_eq "$RC" 0 "452 after 2 without PIPELINING: all delivered"
t_eq "$(ls "$PEER_DIR" | grep -c '^msg\.1')" 2 "452 without PIPELINING: two transactions"

# A server that closes after its 452 transaction: the rest on a new connection.
start_peer limit2_close '{"rcpt_limit": 2, "close_after": 1}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test a@example.com b@example.com c@example.com
t_eq "$RC" 0 "452 and then a closed connection: all delivered"
t_ok "$([ -e "$PEER_DIR/msg.1" ] && [ -e "$PEER_DIR/msg.2" ]; echo $?)" "the rest went on a new connection"

# No recipient accepted at all: a 452 to the first defers, it does not loop.
start_peer limit0 '{"rcpt": "452 4.5.3 Too many recipients"}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test a@example.com b@example.com
t_eq "$RC" 75 "452 to every recipient: deferred"
t_eq "$(printf '%s' "$OUT" | cut -c1-6)" "4.5.3 " "452 to every recipient: 4.5.3"
t_eq "$(grep -c '^MAIL' "$PEER_DIR/session.1")" 1 "452 to every recipient: one transaction, no loop"

# LMTP: the 452 split, and a refused recipient does not hold back the others.
start_peer lmtp452 '{"rcpt_limit": 2, "rcpt": {"default": "250 2.1.5 Ok", "nobody@example.com": "550 5.1.1 No such user"}}'
conf "example.com [127.0.0.1]:$PEER_PORT"
lmtp "$T_DIR/plain" a@example.com nobody@example.com b@example.com c@example.com d@example.com
t_grep "$T_DIR/lout" '^DATA a@example\.com 250 ' "LMTP: a sent"
t_grep "$T_DIR/lout" '^DATA nobody@example\.com 550 5\.1\.1 ' "LMTP: the refused one gets its own 550"
t_grep "$T_DIR/lout" '^DATA d@example\.com 250 ' "LMTP: d, after two 452s, sent"
t_eq "$(grep -c '^DATA .* 250 ' "$T_DIR/lout")" 4 "LMTP: every accepted recipient sent despite the refusal"

# Pipe front, one recipient refused: the others are sent; one status covers all.
start_peer mixed '{"rcpt": {"default": "250 2.1.5 Ok", "nobody@example.com": "550 5.1.1 No such user"}}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com nobody@example.com
t_eq "$RC" 67 "pipe, one of two refused (5xx): the bounce is the status"
t_grep "$PEER_DIR/env.1" '^RCPT TO:<bob@example\.com>$' "pipe, one of two refused: the accepted one is sent"
t_grep "$T_DIR/xout" '1 other recipients of this delivery were sent' "pipe: the DSN text says the other one was sent"
t_grep "$LOG" 'warning: TESTQ: 1 of 2 recipients were sent' "pipe: the log says what one status hides"

# --- 4. long lines --------------------------------------------------------
python3 -c '
import sys
sys.stdout.buffer.write(b"Subject: long\r\nX-Long: " + b"h" * 3000 + b"\r\n\r\n" + b"b" * 5000 + b"\r\n." + b"d" * 2000 + b"\r\nend\r\n")' >"$T_DIR/long"
start_peer strict '{"max_line": 998}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/long" alice@sender.test bob@example.com
t_eq "$RC" 0 "5,000-byte line to a server that refuses lines over 998: folded, delivered"
python3 - "$PEER_DIR/msg.1" "$T_DIR/long" <<'EOF'
import sys
got = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()
# the loop guard's trace field is the one line the transport adds
assert b"\r\nX-Loop-Mxport: example.com by " in got, "no X-Loop-Mxport field"
got = b"\r\n".join(l for l in got.split(b"\r\n") if not l.startswith(b"X-Loop-Mxport: "))
lines = got.split(b"\r\n")
assert max(len(l) for l in lines) <= 998, "a line over 998"
# Unfolding (drop CR LF SPACE) and unstuffing gives the original back.
unfolded = got.replace(b"\r\n ", b"").replace(b"\r\n..", b"\r\n.")
assert unfolded == want, "folded text differs"
EOF
t_ok $? "long lines: no line over 998 on the wire; unfolded, the message is unchanged"

conf "example.com [127.0.0.1]:$PEER_PORT" "line_length_limit = 0"
xport "$T_DIR/long" alice@sender.test bob@example.com
t_eq "$RC" 69 "line_length_limit = 0: sent as is, and the strict server refuses it"

python3 -c '
import sys
sys.stdout.buffer.write(b"Subject: lmtp long\r\n\r\n" + b"x" * 10000 + b"\r\nend\r\n")' >"$T_DIR/long10k"
start_peer strict2 '{"max_line": 998}'
conf "example.com [127.0.0.1]:$PEER_PORT"
lmtp "$T_DIR/long10k" bob@example.com
t_grep "$T_DIR/lout" '^DATA bob@example\.com 250 ' "LMTP: a 10,000-byte data line is accepted and delivered"
t_ok "$(python3 -c "import sys; d=open('$PEER_DIR/msg.1','rb').read(); d=b'\r\n'.join(l for l in d.split(b'\r\n') if not l.startswith(b'X-Loop-Mxport: ')); sys.exit(0 if d.replace(b'\r\n ', b'') == open('$T_DIR/long10k','rb').read() else 1)"; echo $?)" "LMTP: the long line arrives folded, otherwise unchanged"

# --- 5. greetings and replies ---------------------------------------------
start_peer greet554 '{"greeting": "554 5.7.1 No SMTP service here"}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "554 greeting: deferred, as Postfix's smtp_skip_5xx_greeting"
t_eq "$(printf '%s' "$OUT" | cut -c1-6)" "4.7.1 " "554 greeting: a 4.X.X code"

start_peer greet554b '{"greeting": "554 5.7.1 Go away"}'
port1=$PEER_PORT
start_peer good2 '{}'
conf "example.com 10 [127.0.0.1]:$port1, 20 [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "554 greeting: the next server is tried and takes it"

huge=$(python3 -c 'print("550 5.1.1 " + "x" * 70000)')
start_peer huge "{\"rcpt\": \"$huge\"}"
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 67 "70 KB reply line: read (cut, as Postfix does), the refusal stands"
t_ok "$([ "${#OUT}" -lt 2000 ]; echo $?)" "70 KB reply line: the DSN text is bounded"

# A multi-line reply that tries to forge a log line of its own.
start_peer forge '{"rcpt": ["454-4.7.0 first", "454 Dec  2 12:00:00 host mxport/transport[1]: FORGED to=<x>"]}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "multi-line 454: deferred"
t_nogrep "$LOG" '^Dec  2 12:00:00 host mxport' "multi-line reply: no forged log line"
t_grep "$LOG" 'said: 454 4\.7\.0 first Dec  2 12:00:00 host mxport/transport\[1\]: FORGED' "multi-line reply: joined with a space on one line"

# A 250 to DATA (no 354) means the server has not got the message: deferred, never "sent".
start_peer data250 '{"data": "250 2.0.0 Ok"}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "250 to DATA instead of 354: deferred"
t_nogrep "$LOG" 'to=<bob@example\.com>.*status=sent' "250 to DATA: not logged as sent"
lmtp "$T_DIR/plain" bob@example.com
t_grep "$T_DIR/lout" '^DATA bob@example\.com 451 4\.0\.0 ' "LMTP, 250 to DATA: 451, not 250"

# A kept session whose server deferred a message at the dot is not kept:
# each later message would be handed to it again, and deferred again.
start_peer dot452 '{"dot": "452 4.3.1 Insufficient system storage"}'
conf "example.com [127.0.0.1]:$PEER_PORT" "connection_cache_time = 5s"
python3 "$MXPORT_SRCDIR/tests/lib/lmtpdrive.py" alice@sender.test 0 a@example.com b@example.com c@example.com -- \
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$TRANSPORT" -c "$T_DIR/mxport.conf" -L - >"$T_DIR/dout" 2>&1
t_eq "$(grep -c ' 451 4\.3\.1 ' "$T_DIR/dout")" 3 "LMTP, 452 at every dot: each message deferred"
t_eq "$(ls "$PEER_DIR" | grep -c '^session\.')" 3 "452 at the dot: the session is not kept for the next message"

# --- 6. 8-bit mail to a server without 8BITMIME (RFC 6152) -----------------
printf 'Subject: 8bit\r\nFrom: a@sender.test\r\n\r\nGr\303\274\303\237e = 100%%\r\n.dot line \303\244\r\n' >"$T_DIR/msg8"
python3 - "$T_DIR/msg8mp" <<'PY'
import sys
m = (b"Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
     b"preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
     b"caf\xc3\xa9 " + b"x" * 200 + b"\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b1--\r\n")
open(sys.argv[1], "wb").write(m)
PY
start_peer no8bit '{"ehlo": ["PIPELINING", "SIZE 100000000"]}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/msg8" alice@sender.test bob@example.com
t_eq "$RC" 0 "8-bit body, no 8BITMIME: converted and delivered"
t_nogrep "$PEER_DIR/env.1" 'BODY=8BITMIME' "no BODY=8BITMIME to a server that did not offer it"
python3 - "$PEER_DIR/msg.1" <<'PY'
import sys, email
raw = open(sys.argv[1], "rb").read()
assert all(b < 0x80 for b in raw), "8-bit byte on the wire"
m = email.message_from_bytes(raw.replace(b"\r\n..", b"\r\n."))
assert m["Content-Transfer-Encoding"] == "quoted-printable", m["Content-Transfer-Encoding"]
assert m["MIME-Version"] == "1.0"
body = m.get_payload(decode=True)
assert body.replace(b"\r\n", b"\n") == "Grüße = 100%\n.dot line ä\n".encode(), body
PY
t_ok $? "8-bit body: 7-bit on the wire, quoted-printable, decodes to the original"

xport "$T_DIR/msg8mp" alice@sender.test bob@example.com
t_eq "$RC" 0 "8-bit multipart, no 8BITMIME: converted and delivered"
python3 - "$PEER_DIR/msg.2" <<'PY'
import sys, email
raw = open(sys.argv[1], "rb").read()
assert all(b < 0x80 for b in raw), "8-bit byte on the wire"
m = email.message_from_bytes(raw)
text, att = m.get_payload()
assert text["Content-Transfer-Encoding"] == "quoted-printable"
assert text.get_payload(decode=True).rstrip(b"\r\n") == "café ".encode() + b"x" * 200
assert att["Content-Transfer-Encoding"] == "base64"
assert att.get_payload(decode=True) == b"\x00\x01\x02\x03"
assert b"preamble" in raw
PY
t_ok $? "8-bit multipart: only the 8-bit text part re-encoded, the base64 part untouched"

printf 'Subject: Gr\303\274\303\237e\r\n\r\nhello\r\n' >"$T_DIR/msg8h"
xport "$T_DIR/msg8h" alice@sender.test bob@example.com
t_eq "$RC" 65 "8-bit header, no 8BITMIME: bounced (EX_DATAERR)"
t_eq "$(printf '%s' "$OUT" | cut -c1-6)" "5.6.3 " "8-bit header: 5.6.3"
t_grep "$T_DIR/xout" 'does not offer 8BITMIME.*8-bit bytes in a header' "8-bit header: the reason is named"

printf 'Subject: bin\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n\303\274\r\n' >"$T_DIR/msg8b"
xport "$T_DIR/msg8b" alice@sender.test bob@example.com
t_eq "$RC" 65 "binary content, no 8BITMIME: bounced 5.6.3"
t_grep "$T_DIR/xout" 'binary content' "binary content: named"

start_peer with8bit '{}'
conf "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/msg8" alice@sender.test bob@example.com
t_eq "$RC" 0 "8-bit body, 8BITMIME offered: sent as it is"
t_grep "$PEER_DIR/env.1" 'BODY=8BITMIME' "8BITMIME offered: BODY=8BITMIME"
t_ok "$(python3 -c "import sys; sys.exit(0 if b'Gr\xc3\xbc' in open('$PEER_DIR/msg.1','rb').read() else 1)"; echo $?)" "8BITMIME offered: the 8-bit bytes unchanged"

# --- 7. mxport-route --probe speaks as the transport does ---------------------
make_certs
C="$T_DIR/certs"
ROUTE="$MXPORT_BUILDDIR/mxport-route"
start_peer probeverify "{\"tls\": {\"cert\": \"$C/wrongname.pem\", \"key\": \"$C/wrongname.key\"}}"
conf "example.com [127.0.0.1]:$PEER_PORT tls=verify" "tls_ca_file = $C/ca.pem"
"$ROUTE" -c "$T_DIR/mxport.conf" --probe example.com >"$T_DIR/probe.out" 2>&1
t_eq "$?" 75 "probe, tls=verify, wrong certificate name: the transport would not deliver, exit 75"
t_grep "$T_DIR/probe.out" "failed: server certificate not verified" "probe honours the route's tls=verify"
t_nogrep "$PEER_DIR/session.2" "^(MAIL|RCPT)" "probe: no mail"

start_peer probeinject "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, \"starttls_reply\": [\"220 2.0.0 Ready\", \"250 injected\"]}"
conf "example.com [127.0.0.1]:$PEER_PORT tls=may" "tls_ca_file = $C/ca.pem"
"$ROUTE" -c "$T_DIR/mxport.conf" --probe example.com >"$T_DIR/probe.out" 2>&1
t_grep "$T_DIR/probe.out" "host sent data after its STARTTLS reply" "probe: the STARTTLS injection check, as in the transport"
t_grep "$T_DIR/probe.out" ">>> STARTTLS" "probe: the commands are shown"

t_done
