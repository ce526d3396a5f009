#!/bin/sh
# test_dane - tls=dane: TLSA records in a DNSSEC-signed zone, served by NSD
# through a validating unbound. A matching record: delivered, verified by
# DANE; a record that does not match: deferred, nothing sent; no record:
# opportunistic TLS; records that are not DNSSEC-secure are not trusted.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 openssl setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
make_certs
C="$T_DIR/certs"
spki_sha256() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}
GOOD=$(spki_sha256 "$C/good.pem")
OTHER=$(spki_sha256 "$C/selfsigned.pem")

start_peer match "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}}"
P1=$PEER_PORT
D1=$PEER_DIR
start_peer mismatch "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}}"
P2=$PEER_PORT
D2=$PEER_DIR
start_peer none "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}}"
P3=$PEER_PORT
D3=$PEER_DIR

cat >"$T_DIR/zone" <<ZONE
\$ORIGIN test.
\$TTL 300
@		SOA	ns.test. hostmaster.test. 1 3600 600 86400 60
@		NS	ns.test.
ns		A	127.0.0.1
peer		A	127.0.0.1
_$P1._tcp.peer	TLSA	3 1 1 $GOOD
_$P2._tcp.peer	TLSA	3 1 1 $OTHER
ZONE
sign_zone "$T_DIR/zone" test. "$T_DIR/zone.signed"
start_nsd "$T_DIR/zone.signed" test.
start_unbound "$T_DIR/zone.signed.ds" test.

cat >"$T_DIR/routes" <<ROUTES
match.example	peer.test:$P1 tls=dane
mismatch.example	peer.test:$P2 tls=dane
none.example	peer.test:$P3 tls=dane
ROUTES
conf() {
	cat >"$T_DIR/mxport.conf" <<CONF
routes_file = $T_DIR/routes
dns_servers = 127.0.0.1:$1
dns_trust_ad = ${2:-yes}
allowed_networks = 127.0.0.0/8
log_file = $LOG
command_timeout = 5s
CONF
	chmod 644 "$T_DIR/mxport.conf" "$T_DIR/routes"
}
printf 'Subject: dane\r\n\r\nhello\r\n' >"$T_DIR/msg"
xport() {
	as_user "$TRANSPORT" -c "$T_DIR/mxport.conf" -q DANEQ -f a@sender.test -- "$1" \
		<"$T_DIR/msg" >"$T_DIR/xout" 2>&1
	RC=$?
	OUT=$(cat "$T_DIR/xout")
}

conf "$UNBOUND_PORT"
xport bob@match.example
t_eq "$RC" 0 "secure TLSA record that matches: delivered"
t_grep "$LOG" "to=<bob@match\\.example>, relay=peer\\.test\\[127\\.0\\.0\\.1\\]:$P1, .*tls=TLSv1\\.[23]/DANE, .*status=sent" "matching TLSA: logged as verified by DANE"
t_grep "$D1/session.1" "^STARTTLS" "matching TLSA: STARTTLS used"
t_grep "$LOG" "DANEQ: DANE-verified TLS connection established to peer\.test\[127\.0\.0\.1\]:$P1: TLSv1\.[23] with cipher" "matching TLSA: DANE-verified connection logged"

xport bob@mismatch.example
t_eq "$RC" 75 "secure TLSA record that does not match: deferred"
case "$OUT" in 4.7.5*"server certificate not verified"*) r=0 ;; *) r=1 ;; esac
t_ok $r "TLSA mismatch: 4.7.5, certificate not verified ($OUT)"
t_eq "$(ls "$D2" | grep -c '^msg\.')" 0 "TLSA mismatch: nothing sent"

xport bob@none.example
t_eq "$RC" 0 "no TLSA record: opportunistic TLS, delivered"
t_grep "$LOG" "to=<bob@none\\.example>, .*tls=TLSv1\\.[23], " "no TLSA record: TLS without DANE"

# Straight to NSD, no validator: the same records are not DNSSEC-secure.
conf "$NSD_PORT"
xport bob@mismatch.example
t_eq "$RC" 0 "TLSA records that are not DNSSEC-secure: not trusted, opportunistic TLS"
t_grep "$LOG" "TLSA records are not DNSSEC-secure; DANE not used" "insecure TLSA: logged"

# The validator, but not marked trusted: its AD bit is not believed, so the
# mismatching TLSA records do not make DANE mandatory.
conf "$UNBOUND_PORT" no
: >"$LOG"
xport bob@mismatch.example
t_eq "$RC" 0 "validator without dns_trust_ad: TLSA not trusted, opportunistic TLS, delivered"
t_grep "$LOG" "TLSA records are not DNSSEC-secure; DANE not used" "validator without dns_trust_ad: logged as not secure"

t_done
