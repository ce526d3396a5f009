#!/bin/sh
# test_transport_limits - what a route may make one delivery do (max_targets,
# max_addresses, max_sessions, counted at the peer and at a counting DNS
# forwarder in front of NSD), credentials only over verified TLS
# (auth_tls_mode, auth_tls=), and secrets-file keys in the routes file's
# host syntax.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 openssl setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
printf 'Subject: limits\r\n\r\nhello\r\n' >"$T_DIR/plain"

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
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/$name.conf"
	CONF="$T_DIR/$name.conf"
}

# xport RCPT - run the transport as pipe(8) would; sets RC and OUT
xport() {
	as_user "$TRANSPORT" -c "$CONF" -q LIMQ -f alice@sender.test -- "$@" <"$T_DIR/plain" \
		>"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}

out_has() {
	case "$OUT" in
	*"$1"*) t_ok 0 "$2" ;;
	*) t_ok 1 "$2"; echo "#   output: $OUT"; echo "#   wanted: ...$1..." ;;
	esac
}
out_lacks() {
	case "$OUT" in
	*"$1"*) t_ok 1 "$2"; echo "#   output: $OUT" ;;
	*) t_ok 0 "$2" ;;
	esac
}

# sessions DIR - connections a peer has seen
sessions() {
	ls "$1" 2>/dev/null | grep -c '^session\.'
}

# targets N HOSTPORT - a routes-file target list of N times HOSTPORT
targets() {
	python3 -c 'import sys; print(", ".join([sys.argv[2]] * int(sys.argv[1])))' "$1" "$2"
}

make_certs
C="$T_DIR/certs"

# --- max_addresses, max_targets, max_sessions: routes file ------------------
start_peer busy '{"greeting": "421 4.3.2 Too busy"}'
conf many "example.com $(targets 200 "[127.0.0.1]:$PEER_PORT")"
xport bob@example.com
t_eq "$RC" 75 "200 targets, each one busy: deferred"
t_eq "$(sessions "$PEER_DIR")" 5 "200 targets: 5 connections (max_addresses = 5), not 200"
out_has "(max_addresses = 5 reached: the rest of the route was not tried)" "200 targets: the deferral names the limit"
out_has "421 4.3.2 Too busy" "200 targets: and the last server's reply"
t_grep "$LOG" "LIMQ: route of example\.com: max_addresses = 5 reached after 5 targets, 5 addresses" "200 targets: the limit is logged"

start_peer busy2 '{"greeting": "421 4.3.2 Too busy"}'
conf few "example.com $(targets 5 "[127.0.0.1]:$PEER_PORT")"
xport bob@example.com
t_eq "$(sessions "$PEER_DIR")" 5 "5 targets: all 5 tried"
out_lacks "reached" "5 targets: no limit named when the whole route was tried"

start_peer busy3 '{"greeting": "421 4.3.2 Too busy"}'
conf nolimit "example.com $(targets 12 "[127.0.0.1]:$PEER_PORT")" "max_addresses = 0" "max_targets = 0"
xport bob@example.com
t_eq "$(sessions "$PEER_DIR")" 12 "max_addresses = 0, max_targets = 0: no limit, 12 of 12 tried"

start_peer busy4 '{"greeting": "421 4.3.2 Too busy"}'
conf targets3 "example.com $(targets 12 "[127.0.0.1]:$PEER_PORT")" "max_addresses = 0" "max_targets = 3"
xport bob@example.com
t_eq "$(sessions "$PEER_DIR")" 3 "max_targets = 3: 3 targets tried"
out_has "(max_targets = 3 reached" "max_targets = 3: named"

start_peer dropmail '{"disconnect": "mail"}'
conf sess "example.com $(targets 6 "[127.0.0.1]:$PEER_PORT")"
xport bob@example.com
t_eq "$RC" 75 "sessions lost after EHLO: deferred"
t_eq "$(sessions "$PEER_DIR")" 2 "sessions lost after EHLO: 2 sessions (max_sessions = 2)"
out_has "(max_sessions = 2 reached" "max_sessions: named"
start_peer dropmail4 '{"disconnect": "mail"}'
conf sess4 "example.com $(targets 6 "[127.0.0.1]:$PEER_PORT")" "max_sessions = 4"
xport bob@example.com
t_eq "$(sessions "$PEER_DIR")" 4 "max_sessions = 4: 4 sessions"
out_has "(max_sessions = 4 reached" "max_sessions = 4: named"

start_peer go554 '{"greeting": "554 5.7.1 Go away"}'
conf g554 "example.com $(targets 7 "[127.0.0.1]:$PEER_PORT")"
xport bob@example.com
t_eq "$RC" 75 "stopped by a limit after 5xx greetings: deferred, never bounced"
case "$OUT" in 4.*) r=0 ;; *) r=1 ;; esac
t_ok $r "stopped by a limit: a 4.X.X code ($OUT)"

# --- the same from DNS: SRV answers with 200 targets ------------------------
start_peer dnsbusy '{"greeting": "421 4.3.2 Too busy"}'
BUSY_DIR=$PEER_DIR
CLOSED=$(free_port)
{
	echo '$ORIGIN test.'
	echo '$TTL 300'
	echo '@ SOA ns.test. hostmaster.test. 1 3600 600 86400 60'
	echo '@ NS ns.test.'
	echo 'ns A 127.0.0.1'
	i=1
	while [ $i -le 200 ]; do
		echo "_smtp._tcp.many SRV 10 0 $PEER_PORT t$i.many.test."
		echo "t$i.many A 127.0.0.1"
		echo "_smtp._tcp.multi SRV 10 0 $CLOSED m$i.multi.test."
		echo "m$i.multi A 127.0.0.2"
		echo "m$i.multi A 127.0.0.3"
		echo "m$i.multi A 127.0.0.4"
		echo "_smtp._tcp.noaddr SRV 10 0 $CLOSED n$i.noaddr.test."
		i=$((i + 1))
	done
} >"$T_DIR/limits.zone"
start_nsd "$T_DIR/limits.zone" test.
QLOG="$T_DIR/queries"
: >"$QLOG"
python3 "$MXPORT_SRCDIR/tests/lib/dnscount.py" "$NSD_PORT" "$T_DIR/dnscount.port" "$QLOG" \
	2>>"$T_DIR/dnscount.err" &
T_PIDS="$T_PIDS $!"
wait_for "dnscount" test -s "$T_DIR/dnscount.port"
DC_PORT=$(cat "$T_DIR/dnscount.port")
dnsconf() {
	{
		echo "dns_routes = yes"
		echo "dns_servers = 127.0.0.1:$DC_PORT"
		echo "dns_timeout = 3s"
		echo "allowed_networks = 127.0.0.0/8"
		echo "log_file = $LOG"
		echo "connect_timeout = 2s"
		echo "command_timeout = 3s"
		for line in "$@"; do echo "$line"; done
	} >"$T_DIR/dns.conf"
	CONF="$T_DIR/dns.conf"
}
# queries NAME - questions the relay asked about NAME's route and its targets
queries() {
	grep -c "[ .]$1\.test\.$" "$QLOG"
}

dnsconf
xport bob@many.test
t_eq "$RC" 75 "SRV, 200 busy targets: deferred"
t_eq "$(sessions "$BUSY_DIR")" 5 "SRV, 200 targets: 5 connections, not 200"
q=$(queries many)
t_ok "$([ "$q" -ge 3 ] && [ "$q" -le 12 ]; echo $?)" "SRV, 200 targets: $q DNS questions (SRV and 5 targets' A/AAAA), not 401"

xport bob@multi.test
t_eq "$RC" 75 "SRV, 200 targets with 3 addresses each, all refusing: deferred"
n=$(grep -c "LIMQ: connect to m[0-9]*\.multi\.test\[127\.0\.0\.[234]\]:$CLOSED: Connection refused" "$LOG")
t_eq "$n" 5 "SRV, 200 x 3 addresses: 5 connection attempts, not 600"
q=$(queries multi)
t_ok "$([ "$q" -le 6 ]; echo $?)" "SRV, 200 x 3 addresses: $q DNS questions"
out_has "(max_addresses = 5 reached" "SRV, 200 x 3 addresses: the limit named"

xport bob@noaddr.test
t_eq "$RC" 75 "SRV, 200 targets without addresses: deferred"
q=$(queries noaddr)
t_ok "$([ "$q" -le 22 ]; echo $?)" "SRV, 200 targets without addresses: $q DNS questions (max_targets = 10), not 401"
out_has "(max_targets = 10 reached" "SRV, targets without addresses: max_targets named"

dnsconf "max_targets = 0" "max_addresses = 0"
: >"$QLOG"
xport bob@noaddr.test
q=$(queries noaddr)
t_ok "$([ "$q" -ge 300 ]; echo $?)" "no limits: every target looked up ($q questions): the limit is what saves them"

# --- credentials only over TLS with a verified certificate --------------------
SECRETS="$T_DIR/secrets"
secrets() {
	printf '%s\n' "$@" >"$SECRETS"
	chown nobody "$SECRETS"
	chmod 600 "$SECRETS"
}
AUTHCONF='"auth": {"user": "cust", "pass": "s3cret pass"}'

start_peer authself "{\"tls\": {\"cert\": \"$C/selfsigned.pem\", \"key\": \"$C/selfsigned.key\"}, $AUTHCONF}"
secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass"
conf authself "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
xport bob@example.com
t_eq "$RC" 75 "credentials, self-signed certificate (tls_mode may): deferred"
case "$OUT" in "4.7.5 127.0.0.1[127.0.0.1]:$PEER_PORT: AUTH not sent: the credentials for this route ($SECRETS line 1) are sent only over TLS with a verified certificate"*) r=0 ;; *) r=1 ;; esac
t_ok $r "self-signed: 4.7.5, host:port, the secrets line and why ($OUT)"
out_has "self-signed certificate" "self-signed: OpenSSL's reason"
t_grep "$PEER_DIR/session.1" '^STARTTLS$' "self-signed: STARTTLS was used"
cat "$PEER_DIR"/session.* >"$T_DIR/all_sessions"
t_nogrep "$T_DIR/all_sessions" '^AUTH' "self-signed: no AUTH on the wire, in any session"
t_eq "$(sessions "$PEER_DIR")" 1 "self-signed: no plain-text retry"

secrets "[127.0.0.1]:$PEER_PORT auth_tls=encrypt cust s3cret pass"
xport bob@example.com
t_eq "$RC" 0 "auth_tls=encrypt on the secrets line: delivered over the self-signed certificate"
t_grep "$PEER_DIR/session.2" '^AUTH PLAIN ' "auth_tls=encrypt: AUTH sent"

secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass"
conf authenc "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS" "auth_tls_mode = encrypt"
xport bob@example.com
t_eq "$RC" 0 "auth_tls_mode = encrypt: delivered over the self-signed certificate"
t_grep "$PEER_DIR/session.3" '^AUTH PLAIN ' "auth_tls_mode = encrypt: AUTH sent"

start_peer authgood "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, $AUTHCONF}"
secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass"
conf authgood "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
xport bob@example.com
t_eq "$RC" 0 "credentials, certificate of the private CA (tls_ca_file): delivered"
t_grep "$PEER_DIR/session.1" '^AUTH PLAIN ' "private CA: AUTH sent"
t_grep "$LOG" "LIMQ: Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$PEER_PORT" "private CA: the certificate was verified first"

conf authnoca "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
sed -i '/^tls_ca_file/d' "$CONF"
xport bob@example.com
t_eq "$RC" 75 "private CA not in the trusted CAs: deferred"
out_has "AUTH not sent" "private CA not trusted: AUTH not sent"

start_peer authwrong "{\"tls\": {\"cert\": \"$C/wrongname.pem\", \"key\": \"$C/wrongname.key\"}, $AUTHCONF}"
secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass"
conf authwrong "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
xport bob@example.com
t_eq "$RC" 75 "credentials, CA-signed certificate for another name: deferred"
out_has "AUTH not sent" "wrong name: AUTH not sent"
t_nogrep "$PEER_DIR/session.1" '^AUTH' "wrong name: no AUTH on the wire"

start_peer authplain "{$AUTHCONF}"
secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass"
conf authplain "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
xport bob@example.com
t_eq "$RC" 75 "credentials, server without STARTTLS: deferred"
case "$OUT" in "4.7.4 127.0.0.1[127.0.0.1]:$PEER_PORT: AUTH not sent"*) r=0 ;; *) r=1 ;; esac
t_ok $r "no STARTTLS: 4.7.4, AUTH not sent ($OUT)"
t_nogrep "$PEER_DIR/session.1" '^AUTH' "no STARTTLS: no AUTH on the wire"

# --- secrets-file keys written as in the routes file ------------------------------
# authgood's peer requires AUTH before MAIL: a key that does not match fails there.
start_peer keys "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, $AUTHCONF}"
conf keys "example.com [127.0.0.1]:$PEER_PORT" "secrets_file = $SECRETS"
n=0
for key in "[127.0.0.1]:$PEER_PORT" "[127.0.0.1]" "smtp://[127.0.0.1]:$PEER_PORT" "127.0.0.1:$PEER_PORT" "EXAMPLE.com."; do
	secrets "# the customer's server" "$key cust s3cret pass"
	xport bob@example.com
	n=$((n + 1))
	t_eq "$RC" 0 "secrets key $key: matches the route [127.0.0.1]:$PEER_PORT"
	t_grep "$PEER_DIR/session.$n" '^AUTH PLAIN ' "secrets key $key: AUTH sent"
done

secrets "[127.0.0.2]:$PEER_PORT cust s3cret pass"
xport bob@example.com
t_eq "$RC" 77 "secrets key for another address: not used (the server's 530 5.7.0 to MAIL stands)"
t_nogrep "$PEER_DIR/session.$((n + 1))" '^AUTH' "secrets key for another address: no AUTH"

for bad in "[127.0.0.1:$PEER_PORT" "[127.0.0.1]:0" "2001:db8::1:25" "[mail.test]:25"; do
	secrets "[127.0.0.3]:25 other pw" "$bad cust s3cret pass"
	xport bob@example.com
	t_eq "$RC" 75 "secrets key '$bad': the mail is deferred"
	out_has "mxport configuration error: secrets_file $SECRETS:2: " "secrets key '$bad': the error names file:line"
done
secrets "[127.0.0.1]:$PEER_PORT cust s3cret pass" "127.0.0.1:$PEER_PORT cust s3cret pass"
xport bob@example.com
t_eq "$RC" 75 "two secrets lines for one target: deferred"
out_has "secrets_file $SECRETS:2: key 127.0.0.1:$PEER_PORT names the same target as line 1" "two lines for one target: both lines named"

# --- the loop guard's trace field ---------------------------------------------------
start_peer loop '{}'
conf loopf "example.com [127.0.0.1]:$PEER_PORT" "helo_name = relay.test"
xport bob@example.com
t_eq "$RC" 0 "trace field: delivered"
t_grep "$PEER_DIR/msg.1" "^X-Loop-Mxport: example\.com by relay\.test.?$" "trace field: the copy carries X-Loop-Mxport: domain by helo_name"
# that copy coming back (the customer's server, or this host's MTA on another port)
as_user "$TRANSPORT" -c "$CONF" -q LIMQ -f alice@sender.test -- bob@example.com <"$PEER_DIR/msg.1" >"$T_DIR/xout" 2>&1
RC=$?
OUT=$(cat "$T_DIR/xout")
t_eq "$RC" 69 "trace field: the copy that comes back bounces"
case "$OUT" in "5.4.6 mail for example.com loops back to myself (it carries X-Loop-Mxport: example.com by relay.test"*) r=0 ;; *) r=1 ;; esac
t_ok $r "trace field: 5.4.6, naming the field ($OUT)"
t_eq "$(sessions "$PEER_DIR")" 1 "trace field: nothing sent for the returning copy"
printf 'Subject: folded\r\nx-loop-mxport:\tEXAMPLE.com\r\n   by relay.test\r\n\r\nhi\r\n' >"$T_DIR/folded"
as_user "$TRANSPORT" -c "$CONF" -q LIMQ -f alice@sender.test -- bob@example.com <"$T_DIR/folded" >"$T_DIR/xout" 2>&1
t_eq "$?" 69 "trace field: found folded and in another case"
printf 'Subject: other\r\nX-Loop-Mxport: example.net by relay.test\r\nX-Loop-Mxport: example.com by other-relay.test\r\n\r\nhi\r\n' >"$T_DIR/other"
as_user "$TRANSPORT" -c "$CONF" -q LIMQ -f alice@sender.test -- bob@example.com <"$T_DIR/other" >"$T_DIR/xout" 2>&1
t_eq "$?" 0 "trace field: another domain's or another relay's field is no loop"
t_eq "$(grep -c '^X-Loop-Mxport:' "$PEER_DIR/msg.2")" 3 "trace field: the fields already there stay, ours is added"

t_done
