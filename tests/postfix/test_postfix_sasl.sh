#!/bin/sh
# test_postfix_sasl - a SASL-authenticated client is trusted: the milter
# reads {auth_authen} with RCPT's macros (it skips MAIL), so with
# unknown_domains = reject a logged-in client still reaches a domain that
# is not forwarded, and a stranger does not. Postfix authenticates against
# a Dovecot-protocol server of the test's own (tests/lib/saslauth.py).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

start_peer sink '{}'
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="unknown_domains = reject"
setup_mxport "example.com [127.0.0.1]:$PEER_PORT"
start_milter
start_postfix "$PEER_PORT"
python3 "$MXPORT_SRCDIR/tests/lib/saslauth.py" "$T_DIR/auth.sock" alice secret >"$T_DIR/saslauth.log" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the SASL server" test -S "$T_DIR/auth.sock"
# An empty global milter_mail_macros (as contrib/postfix advised before):
# Postfix would still send Postfix's default list, {auth_authen} in it, at
# MAIL; emptied, the login reaches the milter only if it asked for it at RCPT.
postconf -c "$PF/etc" -e smtpd_sasl_auth_enable=yes smtpd_sasl_type=dovecot \
	"smtpd_sasl_path=$T_DIR/auth.sock" milter_mail_macros= \
	"relay_domains=local.test, $(postconf -c "$PF/etc" -h relay_domains)" >/dev/null
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 1

# send LOGIN RCPT - one RCPT, logged in as alice (LOGIN = yes) or not
send() {
	python3 - "$PF_PORT" "$1" "$2" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("client.test")
if sys.argv[2] == "yes":
    s.login("alice", "secret")
s.mail("alice@sender.test")
code, text = s.rcpt(sys.argv[3])
print("RCPT", code, text.decode())
s.rset()
s.quit()
PYEOF
}

send no kim@local.test >"$T_DIR/s1" 2>&1
t_grep "$T_DIR/s1" "^RCPT 550 5\.7\.1 Recipient domain local\.test is not forwarded" "a stranger: the milter refuses a domain that is not forwarded"
send yes kim@local.test >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT 250 " "logged in: the same recipient is accepted"
send yes bob@example.com >"$T_DIR/s3" 2>&1
t_grep "$T_DIR/s3" "^RCPT 250 " "logged in: a forwarded recipient is accepted"

t_done
