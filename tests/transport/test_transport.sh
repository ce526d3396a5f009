#!/bin/sh
# test_transport - mxport-transport against real SMTP peers on 127.0.0.1:
# the project's scripted peer and Postfix's smtp-sink. Each row of the
# outcome table: exit code, first output line, and what the peer received.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 openssl setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"

# conf NAME ROUTES [EXTRA...] - a configuration with one routes file
conf() {
	name=$1
	routes=$2
	shift 2
	printf '%s\n' "$routes" >"$T_DIR/$name.routes"
	{
		echo "routes_file = $T_DIR/$name.routes"
		echo "allowed_networks = 127.0.0.0/8, ::1"
		echo "log_file = $LOG"
		echo "dns_servers = 127.0.0.1:9"
		echo "dns_timeout = 1s"
		echo "connect_timeout = 2s"
		echo "command_timeout = 3s"
		echo "data_done_timeout = 3s"
		echo "tls_ca_file = $T_DIR/certs/ca.pem"
		echo "helo_name = relay.test"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/$name.conf"
	CONF="$T_DIR/$name.conf"
}

# xport MSGFILE SENDER RCPT... - run the transport as pipe(8) would; sets RC and OUT
xport() {
	msgf=$1
	sender=$2
	shift 2
	as_user "$TRANSPORT" -c "$CONF" -q TESTQ -f "$sender" -- "$@" <"$msgf" >"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}

# out_starts PREFIX DESC - the output line starts with PREFIX
out_starts() {
	case "$OUT" in
	"$1"*) t_ok 0 "$2" ;;
	*) t_ok 1 "$2"; echo "#   output: $OUT"; echo "#   wanted: $1..." ;;
	esac
}

# out_has TEXT DESC - the output line contains TEXT
out_has() {
	case "$OUT" in
	*"$1"*) t_ok 0 "$2" ;;
	*) t_ok 1 "$2"; echo "#   output: $OUT"; echo "#   wanted: ...$1..." ;;
	esac
}

make_certs

# A message with a tag header (folded, odd case), a line with a leading dot,
# a bare-LF line end, CRLF line ends, and an 8-bit line.
printf 'Received: from client by relay\r\nx-mxport: example.com,\r\n\tmore.example\r\nSubject: test\r\nX-MXPORT : forged\r\nFrom: a@sender.test\r\n\r\nline one\r\n.leading dot\nbare LF line\r\n..two dots\r\n.\r\nlast line\r\n' >"$T_DIR/msg1"
# What the peer must receive: tag headers gone, CRLF everywhere, dots doubled.
# (and the loop guard's trace field, last in the header)
printf 'Received: from client by relay\r\nSubject: test\r\nFrom: a@sender.test\r\nX-Loop-Mxport: example.com by relay.test\r\n\r\nline one\r\n..leading dot\r\nbare LF line\r\n...two dots\r\n..\r\nlast line\r\n' >"$T_DIR/msg1.want"
printf 'Subject: 8bit\r\n\r\nGr\303\274\303\237e\r\n' >"$T_DIR/msg8"
printf 'Subject: plain\r\n\r\nhello\r\n' >"$T_DIR/plain"

# --- delivered -----------------------------------------------------------
start_peer ok '{}'
conf ok "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/msg1" alice@sender.test bob@example.com
t_eq "$RC" 0 "delivered: exit 0"
t_eq "$OUT" "" "delivered: no output"
if cmp -s "$PEER_DIR/msg.1" "$T_DIR/msg1.want"; then r=0; else r=1; fi
t_ok $r "delivered: body as sent, tag headers gone, CRLF, dot-stuffed"
[ $r -eq 0 ] || { echo "# got:"; od -c "$PEER_DIR/msg.1" | head -20 | sed 's/^/#  /'; }
t_grep "$PEER_DIR/env.1" '^MAIL FROM:<alice@sender\.test> SIZE=[0-9]+$' "delivered: MAIL FROM with SIZE, no BODY for 7-bit"
t_grep "$PEER_DIR/env.1" '^RCPT TO:<bob@example\.com>$' "delivered: RCPT TO"
t_grep "$LOG" "TESTQ: to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PEER_PORT, delay=[0-9.]+, tls=none, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as TEST\)" "delivered: one log line in Postfix's shape"

xport "$T_DIR/msg8" "" bob@example.com
t_eq "$RC" 0 "null sender, 8-bit body: exit 0"
t_grep "$PEER_DIR/env.2" '^MAIL FROM:<> SIZE=[0-9]+ BODY=8BITMIME$' "null sender as MAIL FROM:<>, BODY=8BITMIME for 8-bit"
printf 'Subject: 8bit\r\nX-Loop-Mxport: example.com by relay.test\r\n\r\nGr\303\274\303\237e\r\n' >"$T_DIR/msg8.want"
if cmp -s "$PEER_DIR/msg.2" "$T_DIR/msg8.want"; then r=0; else r=1; fi
t_ok $r "8-bit body arrives byte for byte"

xport "$T_DIR/plain" "<>" bob@example.com carol@example.com
t_eq "$RC" 0 "two recipients of one domain: one transaction"
t_eq "$(grep -c '^RCPT' "$PEER_DIR/env.3")" 2 "two recipients of one domain: both RCPT TO in one session"

# 20 MB message with long lines and LF line ends
python3 -c '
import sys
line = b"x" * 998 + b"\n"
sys.stdout.buffer.write(b"Subject: big\n\n" + line * 21000)' >"$T_DIR/big"
xport "$T_DIR/big" alice@sender.test bob@example.com
t_eq "$RC" 0 "20 MB message: exit 0"
if python3 -c '
import sys
want = open(sys.argv[1], "rb").read().replace(b"\n", b"\r\n")
want = want.replace(b"\r\n\r\n", b"\r\nX-Loop-Mxport: example.com by relay.test\r\n\r\n", 1)
got = open(sys.argv[2], "rb").read()
sys.exit(0 if want == got else 1)' "$T_DIR/big" "$PEER_DIR/msg.4"; then r=0; else r=1; fi
t_ok $r "20 MB message: received identical (LF made CRLF)"

# --- refusals by the customer's server ----------------------------------
start_peer rcpt550 '{"rcpt": {"default": "250 2.1.5 Ok", "nobody@example.com": ["550-5.1.1 No such user here", "550 5.1.1 Try another"]}}'
conf r550 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test nobody@example.com
t_eq "$RC" 67 "RCPT 550 5.1.1: bounce, exit 67 (EX_NOUSER)"
t_eq "$OUT" "5.1.1 <nobody@example.com>: host 127.0.0.1[127.0.0.1]:$PEER_PORT said: 550 5.1.1 No such user here 5.1.1 Try another (in reply to RCPT TO command)" "RCPT 550: Postfix-style DSN text with the server's words, multiline joined"
t_ok "$([ ! -e "$PEER_DIR/msg.1" ]; echo $?)" "RCPT 550: no message sent"

xport "$T_DIR/plain" alice@sender.test bob@example.com nobody@example.com
t_eq "$RC" 67 "one of two recipients refused: the bounce is the one status"
out_starts "5.1.1 <nobody@example.com>: host" "one of two refused: the refusal is reported"
t_grep "$LOG" "to=<bob@example\.com>.*dsn=2\.0\.0, status=sent" "one of two refused: the accepted one is sent (RFC 5321), logged"
t_grep "$LOG" "to=<nobody@example\.com>.*dsn=5\.1\.1, status=bounced" "one of two refused: the refused one logged as bounced"
t_ok "$([ -e "$PEER_DIR/msg.2" ]; echo $?)" "one of two refused: the message went to the accepted one"

start_peer rcpt450 '{"rcpt": "450 4.2.0 Mailbox busy"}'
conf r450 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "RCPT 450: defer, exit 75"
out_starts "4.2.0 <bob@example.com>: host 127.0.0.1[127.0.0.1]:$PEER_PORT said: 450 4.2.0 Mailbox busy" "RCPT 450: 4.X.X text"

start_peer mail550 '{"mail": "553 sender rejected"}'
conf m550 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 69 "MAIL 553 without enhanced code: bounce, exit 69"
out_starts "5.0.0 host 127.0.0.1[127.0.0.1]:$PEER_PORT said: 553 sender rejected (in reply to MAIL FROM command)" "MAIL 553: 5.0.0 and the server's text"

start_peer data554 '{"data": "554 5.6.0 No thanks"}'
conf d554 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 65 "DATA 554 5.6.0: bounce (EX_DATAERR)"
out_has "(in reply to DATA command)" "DATA 554: names the DATA command"

start_peer dot552 '{"dot": "552 5.3.4 Message too big"}'
conf dot552 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 69 "final dot 552: bounce, exit 69"
out_starts "5.3.4 host 127.0.0.1[127.0.0.1]:$PEER_PORT said: 552 5.3.4 Message too big (in reply to end of DATA command)" "final dot 552: text"

start_peer dot451 '{"dot": "451 4.3.0 Try later"}'
conf dot451 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "final dot 451: defer"

start_peer greet421 '{"greeting": "421 4.3.2 Too busy"}'
conf g421 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "greeting 421: defer"
out_starts "4.3.2 host 127.0.0.1[127.0.0.1]:$PEER_PORT said: 421 4.3.2 Too busy (in reply to initial greeting)" "greeting 421: text"

start_peer ehlo502 '{"ehlo_reply": "502 5.5.2 EHLO not implemented"}'
conf e502 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/msg8" alice@sender.test bob@example.com
t_eq "$RC" 0 "EHLO refused: HELO is used and mail delivered"
t_grep "$PEER_DIR/session.1" '^HELO ' "EHLO refused: HELO sent"
t_grep "$PEER_DIR/env.1" '^MAIL FROM:<alice@sender\.test>$' "HELO session: no ESMTP parameters"

# --- connection trouble: always a deferral ---------------------------------
closed=$(free_port)
conf refused "example.com [127.0.0.1]:$closed"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "connection refused: defer"
t_eq "$OUT" "4.4.1 connect to 127.0.0.1[127.0.0.1]:$closed: Connection refused" "connection refused: text"

for stage in greeting ehlo mail rcpt data; do
	start_peer "drop$stage" "{\"disconnect\": \"$stage\"}"
	conf "drop$stage" "example.com [127.0.0.1]:$PEER_PORT"
	xport "$T_DIR/plain" alice@sender.test bob@example.com
	t_eq "$RC" 75 "peer drops the connection at $stage: defer"
	out_starts "4.4.2 127.0.0.1[127.0.0.1]:$PEER_PORT: lost connection" "peer drops at $stage: 'lost connection' text"
done

start_peer dropdot '{"disconnect": "dot"}'
conf dropdot "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "peer drops the connection after the final dot: defer"
out_has "message may be sent more than once" "dropped after dot: says a duplicate is possible"
t_ok "$([ -e "$PEER_DIR/msg.1" ]; echo $?)" "dropped after dot: the peer did receive it (the duplicate case)"

start_peer slow '{"delay": {"greeting": 6}}'
conf slow "example.com [127.0.0.1]:$PEER_PORT"
start=$(now_ms)
xport "$T_DIR/plain" alice@sender.test bob@example.com
elapsed=$(($(now_ms) - start))
t_eq "$RC" 75 "greeting slower than command_timeout (3s): defer"
out_has "timeout waiting for reply to initial greeting" "slow greeting: timeout named"
t_ok "$([ "$elapsed" -lt 5500 ]; echo $?)" "slow greeting: gave up after command_timeout (${elapsed} ms)"

start_peer slowdot '{"delay": {"dot": 8}}'
conf limit "example.com [127.0.0.1]:$PEER_PORT" "data_done_timeout = 60s" "delivery_time_limit = 10s"
sed -i 's/^data_done_timeout = 3s$//' "$CONF"
start=$(now_ms)
xport "$T_DIR/plain" alice@sender.test bob@example.com
elapsed=$(($(now_ms) - start))
t_eq "$RC" 0 "slow final reply within data_done_timeout: delivered (${elapsed} ms)"
start_peer stall '{"delay": {"dot": 30}}'
conf limit2 "example.com [127.0.0.1]:$PEER_PORT" "delivery_time_limit = 10s"
sed -i 's/^data_done_timeout = 3s$/data_done_timeout = 60s/' "$CONF"
start=$(now_ms)
xport "$T_DIR/plain" alice@sender.test bob@example.com
elapsed=$(($(now_ms) - start))
t_eq "$RC" 75 "delivery_time_limit reached: defer, never a bounce"
out_starts "4.4.7" "delivery_time_limit: 4.4.7"
t_ok "$([ "$elapsed" -ge 9500 ] && [ "$elapsed" -lt 13000 ]; echo $?)" "delivery_time_limit: stopped at about 10 s (${elapsed} ms)"

start_peer garbage '{"garbage": {"mail": "hello there"}}'
conf garbage "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "garbage reply line: defer"
out_has "protocol error: malformed reply line 'hello there'" "garbage reply: named"

long=$(python3 -c 'print("250 " + "x" * 5000)')
start_peer longline "{\"garbage\": {\"greeting\": \"$long\"}}"
conf longline "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "over-long greeting line: cut, as Postfix does, and the delivery goes on"

# --- several targets ---------------------------------------------------------
start_peer second '{}'
conf two "example.com 10 [127.0.0.1]:$closed, 20 [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "first target refuses connections: second target gets the mail"
t_ok "$([ -e "$PEER_DIR/msg.1" ]; echo $?)" "second target received it"
t_grep "$LOG" "TESTQ: connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$closed: Connection refused" "the failed first target is logged"

# --- TLS ---------------------------------------------------------------------
C="$T_DIR/certs"
start_peer tls "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}}"
TLS_PORT=$PEER_PORT
conf tlsmay "example.com [127.0.0.1]:$TLS_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "tls=may with STARTTLS offered: delivered"
t_grep "$PEER_DIR/session.1" '^STARTTLS$' "tls=may: STARTTLS used"
t_grep "$LOG" "to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$TLS_PORT, .*tls=TLSv1\.[23], dsn=2\.0\.0, status=sent" "tls=may: protocol logged"
t_eq "$(grep -c '^EHLO' "$PEER_DIR/session.1")" 2 "tls=may: EHLO again after STARTTLS"
t_grep "$LOG" "TESTQ: Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$TLS_PORT: TLSv1\.[23] with cipher [A-Z0-9_-]+" "tls=may: protocol and cipher logged (certificate not checked in may mode)"

conf tlsverify "example.com [127.0.0.1]:$TLS_PORT tls=verify"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "tls=verify, certificate of our CA for the address: delivered"
t_grep "$LOG" "TESTQ: Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$TLS_PORT: TLSv1\.[23] with cipher" "tls=verify: logged as a verified TLS connection"

for bad in wrongname selfsigned expired; do
	start_peer "tls$bad" "{\"tls\": {\"cert\": \"$C/$bad.pem\", \"key\": \"$C/$bad.key\"}}"
	conf "tlsv$bad" "example.com [127.0.0.1]:$PEER_PORT tls=verify"
	xport "$T_DIR/plain" alice@sender.test bob@example.com
	t_eq "$RC" 75 "tls=verify, $bad certificate: defer"
	out_starts "4.7.5 127.0.0.1[127.0.0.1]:$PEER_PORT: server certificate not verified" "tls=verify, $bad: reason named"
	t_ok "$([ ! -e "$PEER_DIR/msg.1" ]; echo $?)" "tls=verify, $bad: nothing sent"
done
t_grep "$LOG" "certificate has expired" "expired certificate: OpenSSL's reason logged"

start_peer notls '{}'
conf tlsenc "example.com [127.0.0.1]:$PEER_PORT tls=encrypt"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "tls=encrypt, STARTTLS not offered: defer"
out_has "TLS is required (tls=encrypt), but was not offered" "tls=encrypt: reason"

start_peer badtls "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, \"starttls_reply\": \"220 go ahead\", \"sessions\": [{\"disconnect\": \"starttls\"}]}"
conf tlsfallback "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "tls=may, TLS fails: delivered in plain text on a new connection"
t_grep "$LOG" "TLS failed .* trying again without TLS" "tls=may fallback: logged"
t_ok "$([ -e "$PEER_DIR/msg.2" ]; echo $?)" "tls=may fallback: second session carried the message"

start_peer smtps "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\", \"implicit\": true}}"
conf smtps "example.com smtps://[127.0.0.1]:$PEER_PORT tls=verify"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "smtps:// implicit TLS, verified: delivered"
t_ok "$([ -e "$PEER_DIR/msg.1" ]; echo $?)" "smtps://: message received"

# --- AUTH ----------------------------------------------------------------------
start_peer auth "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, \"auth\": {\"user\": \"cust\", \"pass\": \"s3cret pass\"}}"
printf "[127.0.0.1]:%s cust s3cret pass\n" "$PEER_PORT" >"$T_DIR/secrets"
chown nobody "$T_DIR/secrets"
chmod 600 "$T_DIR/secrets"
conf auth "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $T_DIR/secrets"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 0 "AUTH PLAIN over STARTTLS: delivered"
t_grep "$PEER_DIR/session.1" '^AUTH PLAIN ' "AUTH: PLAIN sent"
if grep -q '^STARTTLS' "$PEER_DIR/session.1" && [ "$(grep -n '^STARTTLS' "$PEER_DIR/session.1" | cut -d: -f1)" -lt "$(grep -n '^AUTH' "$PEER_DIR/session.1" | cut -d: -f1)" ]; then r=0; else r=1; fi
t_ok $r "AUTH: only after STARTTLS"
chmod 644 "$T_DIR/secrets"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "secrets file readable by others: defer"
t_grep "$LOG" "others have access \(mode 0644\); refusing to use it" "secrets file mode: named in the log"
chmod 600 "$T_DIR/secrets"
conf authnotls "example.com [127.0.0.1]:$PEER_PORT tls=none" "secrets_file = $T_DIR/secrets"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "credentials but no TLS: AUTH not sent, defer"
t_nogrep "$PEER_DIR/session.2" '^AUTH' "credentials but no TLS: no AUTH on the wire"

# --- the route itself ----------------------------------------------------------
conf loop "example.com [127.0.0.1]:$TLS_PORT" "local_ports = 25 $TLS_PORT"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 69 "route to this host's MTA port: bounce"
out_starts "5.4.6 mail for example.com loops back to myself" "loop: 5.4.6"

conf nullroute "example.com ."
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 69 "null route: bounce"
out_starts "5.4.4 " "null route: 5.4.4"

conf guard "example.com [10.0.0.1]:2525"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "route into a private network: deferred, not connected"
out_has "route refused: 10.0.0.1 is in private network" "guard: reason"

start_peer noutf8 '{"ehlo": ["PIPELINING", "8BITMIME"]}'
conf noutf8 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test "jörg@example.com"
t_eq "$RC" 65 "UTF-8 recipient, server without SMTPUTF8: bounce"
out_starts "5.6.7 " "no SMTPUTF8: 5.6.7"
start_peer utf8 '{}'
conf utf8 "example.com [127.0.0.1]:$PEER_PORT"
xport "$T_DIR/plain" alice@sender.test "jörg@example.com"
t_eq "$RC" 0 "UTF-8 recipient, server with SMTPUTF8: delivered"
t_grep "$PEER_DIR/env.1" 'SMTPUTF8' "SMTPUTF8 parameter sent"

# --- configuration and environment ------------------------------------------------
"$TRANSPORT" -c "$CONF" -q TESTQ -f a@b.test -- bob@example.com <"$T_DIR/plain" >"$T_DIR/xout" 2>&1
RC=$?
OUT=$(cat "$T_DIR/xout")
t_eq "$RC" 75 "run as root: refused, mail waits"
out_starts "4.3.0 mxport-transport refuses to run as root" "run as root: 4.3.0"

printf 'tls_mode = bogus\nrouted = 1\n' >"$T_DIR/bad.conf"
chmod 644 "$T_DIR/bad.conf"
CONF="$T_DIR/bad.conf"
xport "$T_DIR/plain" alice@sender.test bob@example.com
t_eq "$RC" 75 "bad configuration: defer"
out_starts "4.3.5 mxport configuration error: $T_DIR/bad.conf:1: tls_mode" "bad configuration: file, line and key in the text"

# --- mxport-route --probe ------------------------------------------------------------
ROUTE="$MXPORT_BUILDDIR/mxport-route"
start_peer probe "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}}"
conf probe "example.com [127.0.0.1]:$PEER_PORT"
"$ROUTE" -c "$CONF" --probe example.com >"$T_DIR/probe.out" 2>&1
t_eq "$?" 0 "probe: STARTTLS peer answers, exit 0"
t_grep "$T_DIR/probe.out" "<<< 220 peer\.test ESMTP" "probe: greeting shown"
t_grep "$T_DIR/probe.out" "<<< 250-PIPELINING" "probe: EHLO capabilities shown"
t_grep "$T_DIR/probe.out" "TLS: TLSv1\.3, cipher " "probe: TLS protocol and cipher"
t_grep "$T_DIR/probe.out" "certificate subject: CN = good\.test" "probe: certificate subject"
t_grep "$T_DIR/probe.out" "certificate issuer:  CN = mxport test CA" "probe: certificate issuer"
t_grep "$T_DIR/probe.out" "certificate expires: " "probe: certificate expiry"
t_grep "$T_DIR/probe.out" "verification against the CAs and name 127\.0\.0\.1: verified" "probe: verification result"
t_nogrep "$PEER_DIR/session.1" "^(MAIL|RCPT|DATA)" "probe: no mail sent"
start_peer probebad "{\"tls\": {\"cert\": \"$C/wrongname.pem\", \"key\": \"$C/wrongname.key\"}}"
conf probebad "example.com [127.0.0.1]:$PEER_PORT"
"$ROUTE" -c "$CONF" --probe example.com >"$T_DIR/probe.out" 2>&1
t_grep "$T_DIR/probe.out" "verification against the CAs and name 127\.0\.0\.1: IP address mismatch" "probe: wrong certificate named as such"
conf probedown "example.com [127.0.0.1]:$closed"
"$ROUTE" -c "$CONF" --probe example.com >"$T_DIR/probe.out" 2>&1
t_eq "$?" 75 "probe: no target answers, exit 75"
t_grep "$T_DIR/probe.out" "connect failed: Connection refused" "probe: connection failure shown"

# --- tag_header: another name for the routing tag ----------------------------------------
start_peer tagname '{}'
conf tagname "example.com [127.0.0.1]:$PEER_PORT" "tag_header = X-Route-Me"
printf 'X-Route-Me: example.com\r\nX-Mxport: kept, not our tag now\r\nSubject: t\r\n\r\nbody\r\n' >"$T_DIR/tagmsg"
xport "$T_DIR/tagmsg" alice@sender.test bob@example.com
t_eq "$RC" 0 "tag_header = X-Route-Me: delivered"
t_nogrep "$PEER_DIR/msg.1" "^X-Route-Me:" "tag_header: the configured tag is removed"
t_grep "$PEER_DIR/msg.1" "^X-Mxport: kept" "tag_header: other headers, the default name included, stay"

# --- smtp-sink, a second independent peer ------------------------------------------
need smtp-sink
SINK_PORT=$(free_port)
mkdir -p "$T_DIR/sink"
chown nobody "$T_DIR/sink"
smtp-sink -u nobody -d "$T_DIR/sink/%M." "127.0.0.1:$SINK_PORT" 10 &
T_PIDS="$T_PIDS $!"
wait_for "smtp-sink" python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINK_PORT)).close()"
conf sink "example.com [127.0.0.1]:$SINK_PORT"
xport "$T_DIR/msg1" alice@sender.test bob@example.com
t_eq "$RC" 0 "smtp-sink: delivered"
sleep 0.3
f=$(ls "$T_DIR/sink" | head -1)
t_ok "$([ -n "$f" ]; echo $?)" "smtp-sink: stored one message"
[ -n "$f" ] && t_grep "$T_DIR/sink/$f" "^\.leading dot" "smtp-sink: a line that starts with a dot arrives intact"
[ -n "$f" ] && t_grep "$T_DIR/sink/$f" "^\.\.two dots" "smtp-sink: a line that starts with two dots arrives intact"
[ -n "$f" ] && t_nogrep "$T_DIR/sink/$f" "^[xX]-[mM][xX][pP][oO][rR][tT]" "smtp-sink: no tag header"

t_done
