#!/bin/sh
# test_interop_exim - mxport-transport against a real second MTA: Debian's
# Exim 4 (unpacked, not installed) on an alternate port with STARTTLS, a
# certificate from a private CA and AUTH over TLS, as a customer's server.
# The body must arrive byte for byte, once; tls=verify must succeed for the
# certificate's name and defer (4.7.5, never bounce) for another name.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/exim.sh"
need python3 openssl setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
make_certs
C="$T_DIR/certs"
exim_fetch
EPORT=$(free_port)
# The good certificate names 127.0.0.1 (and mail.test), not 127.0.0.2.
start_exim cust "$EPORT" "127.0.0.1 : 127.0.0.2" "$C/good.pem" "$C/good.key" example.com
E="$EXIM_DIR"

conf() {
	name=$1
	routes=$2
	shift 2
	printf '%s\n' "$routes" >"$T_DIR/$name.routes"
	{
		echo "routes_file = $T_DIR/$name.routes"
		echo "allowed_networks = 127.0.0.0/8"
		echo "log_file = $LOG"
		echo "helo_name = relay.test"
		echo "connect_timeout = 3s"
		echo "command_timeout = 10s"
		echo "tls_ca_file = $C/ca.pem"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/$name.conf"
	CONF="$T_DIR/$name.conf"
}
xport() {
	msgf=$1
	shift
	as_user "$TRANSPORT" -c "$CONF" -q EXIMQ -f alice@sender.test -- "$@" <"$msgf" >"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}
received() {
	grep -c " <= alice@sender\.test " "$E/log/mainlog"
}

# A body with what breaks careless relays: 8-bit text, lines that start
# with a dot (one is only a dot), a long line, tabs, trailing blanks, empty
# lines, CR LF and bare LF line ends. The tag header must go.
python3 - "$T_DIR/msg" "$T_DIR/body.want" <<'PY'
import sys
body = (b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n"
        b".a line with a leading dot\r\n"
        b".\r\n"
        b"..two dots\n"
        b"\r\n\r\n"
        b"tab\there, blanks at the end   \r\n"
        + b"y" * 990 + b"\r\n"
        b"last line\r\n")
head = (b"From: Alice <alice@sender.test>\r\n"
        b"To: bob@example.com\r\n"
        b"X-Mxport: example.com\r\n"
        b"Subject: interop\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n")
open(sys.argv[1], "wb").write(head + body)
# Exim stores messages with LF line ends: what its maildir file must hold after the header.
open(sys.argv[2], "wb").write(body.replace(b"\r\n", b"\n"))
PY

# --- tls=verify, the certificate's address: delivered, once, byte for byte --
conf verify "example.com [127.0.0.1]:$EPORT tls=verify"
xport "$T_DIR/msg" bob@example.com
t_eq "$RC" 0 "Exim, tls=verify to the certificate's address: delivered"
t_eq "$OUT" "" "Exim: no output"
wait_until 10 test "$(exim_msgs "$E")" -ge 1
t_eq "$(exim_msgs "$E")" 1 "Exim: one copy stored"
t_eq "$(received)" 1 "Exim: one message received (its log)"
t_grep "$E/log/mainlog" "<= alice@sender\.test H=\(relay\.test\) \[127\.0\.0\.1\] P=esmtps X=TLS1\.[23]" "Exim: received over ESMTP with TLS"
t_grep "$LOG" "EXIMQ: Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$EPORT" "transport: the certificate was verified"
t_grep "$LOG" "EXIMQ: to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$EPORT, .*tls=TLSv1\.[23]/verified, dsn=2\.0\.0, status=sent \(250 OK id=" "transport: logged as sent, with Exim's queue id"
stored=$(ls "$E"/mail/new/* | head -1)
python3 - "$stored" "$T_DIR/body.want" "$T_DIR/body.got" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[3], "wb").write(data.split(b"\n\n", 1)[1] if b"\n\n" in data else b"")
PY
if cmp -s "$T_DIR/body.got" "$T_DIR/body.want"; then r=0; else r=1; fi
t_ok $r "Exim: the body arrived byte for byte (8-bit, dots, long line, blanks)"
[ $r -eq 0 ] || cmp "$T_DIR/body.got" "$T_DIR/body.want" | sed 's/^/#   /'
t_grep "$stored" "^Subject: interop$" "Exim: headers intact"
t_nogrep "$stored" "^X-Mxport:" "Exim: the tag header removed"
t_grep "$stored" "^X-Loop-Mxport: example\.com by relay\.test$" "Exim: the loop guard's field is there"

# --- tls=verify, another name: deferred 4.7.5, nothing sent --------------------
conf wrong "example.com [127.0.0.2]:$EPORT tls=verify"
xport "$T_DIR/msg" bob@example.com
t_eq "$RC" 75 "Exim, tls=verify to a name the certificate lacks: deferred, not bounced"
case "$OUT" in "4.7.5 127.0.0.2[127.0.0.2]:$EPORT: server certificate not verified"*) r=0 ;; *) r=1 ;; esac
t_ok $r "wrong name: 4.7.5 and the reason ($OUT)"
t_eq "$(received)" 1 "wrong name: Exim received nothing more"

conf wrongenc "example.com [127.0.0.2]:$EPORT tls=encrypt"
xport "$T_DIR/msg" bob@example.com
t_eq "$RC" 0 "the same server with tls=encrypt: delivered (only the name was wrong)"
t_eq "$(received)" 2 "tls=encrypt: Exim received it"

# --- AUTH over verified TLS, and not over unverified TLS -------------------------------
printf '[127.0.0.1]:%s cust s3cret pass\n[127.0.0.2]:%s cust s3cret pass\n' "$EPORT" "$EPORT" >"$T_DIR/secrets"
chown nobody "$T_DIR/secrets"
chmod 600 "$T_DIR/secrets"
conf auth "example.com [127.0.0.1]:$EPORT" "secrets_file = $T_DIR/secrets"
xport "$T_DIR/msg" bob@example.com
t_eq "$RC" 0 "Exim with AUTH, route with credentials and tls_mode may: delivered"
t_grep "$E/log/mainlog" "<= alice@sender\.test .* X=TLS1\.[23]\S* .*A=plain_server:cust" "Exim: AUTH PLAIN accepted over TLS"
conf authwrong "example.com [127.0.0.2]:$EPORT" "secrets_file = $T_DIR/secrets"
xport "$T_DIR/msg" bob@example.com
t_eq "$RC" 75 "Exim with AUTH, certificate for another name: deferred"
case "$OUT" in "4.7.5 127.0.0.2[127.0.0.2]:$EPORT: AUTH not sent"*) r=0 ;; *) r=1 ;; esac
t_ok $r "certificate for another name: AUTH not sent, 4.7.5 ($OUT)"
t_eq "$(received)" 3 "certificate for another name: Exim received nothing more"

t_done
