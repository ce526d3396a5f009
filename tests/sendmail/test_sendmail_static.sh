#!/bin/sh
# test_sendmail_static - contrib/sendmail with MXPORT_STATIC_MAPS: the
# mailertable and the access map are hash files made by makemap from
# "mxport-route --export", for a Sendmail without socket maps. The milter
# still gates and tags; the static relay list alone must keep the relay
# closed (unknown_domains = accept here, so the milter refuses nothing).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
. "$MXPORT_SRCDIR/tests/lib/sendmail.sh"
need python3

start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custN '{}'
PN=$PEER_PORT
N="$PEER_DIR"
start_peer senders '{"host": "127.0.0.2"}'
PS=$PEER_PORT
S="$PEER_DIR"
start_peer custB '{}'
PB=$PEER_PORT
B="$PEER_DIR"
sed -e "s/@PORT_B@/$PB/g" -e "s/@CLOSED@/$(free_port)/g" \
	"$MXPORT_SRCDIR/tests/postfix/postfix.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

SM_PORT=$(free_port)
PF_PORT=$SM_PORT
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
dns_timeout = 2s
unknown_domains = accept"
setup_mxport "example.com [127.0.0.1]:$PA
.sub.example.org [127.0.0.1]:$PA
null.example ."
start_milter

# The maps, as the README tells an admin to make them.
sm_fetch
SMD="$T_DIR/sendmail"
mkdir -p "$SMD"
make_maps() {
	for map in mailertable access; do
		"$T_DIR/bin/mxport-route" -c "$T_DIR/etc/mxport.conf" --export "sendmail-$map" \
			>"$SMD/$map" 2>>"$SMD/export.log" || return 1
		"$SM_ROOT/usr/sbin/makemap" -C /dev/null -s hash "$SMD/$map" <"$SMD/$map" || return 1
	done
}
make_maps
t_ok $? "the maps are exported and built with makemap"
t_grep "$SMD/export.log" "1 subdomain entry .* cannot be expressed as sendmail-access" "the export warns about the subdomain entry"
SM_MC_EXTRA="define(\`MAIL_SETTINGS_DIR', \`$SMD/')dnl
define(\`MXPORT_STATIC_MAPS')dnl"
start_sendmail "$PS"
t_grep "$SMD/sendmail.cf" "^Kmailertable hash .*$SMD/mailertable" "the .cf reads the static mailertable"
t_nogrep "$SMD/sendmail.cf" "socketmap\\.sock" "... and never the socket map"

# 1. a routes-file domain: relayed by the static maps, delivered by mxport
send_sm alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "1: message for a routes-file domain accepted"
wait_until 30 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "1: delivered at the customer's alternate port"
t_grep "$A/env.1" "^RCPT TO:<bob@example\\.com>" "1: envelope recipient intact"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "1: tag headers gone"
t_grep "$SMD/traffic.log" "=== EXEC mxport-transport " "1: Sendmail ran the mxport mailer"

# 2. the relay stays closed: only the exported domains are relayed
send_sm alice@sender.test x@unknown.test >"$T_DIR/s2" 2>&1
t_grep "$T_DIR/s2" "^RCPT x@unknown\\.test 550 " "2: unknown domain refused at RCPT (the milter accepts it here)"
send_sm alice@sender.test y@srvonly.test >"$T_DIR/s2b" 2>&1
t_grep "$T_DIR/s2b" "^RCPT y@srvonly\\.test 550 " "2: an SRV-only domain is not in static maps: refused"
send_sm alice@sender.test z@null.example >"$T_DIR/s2c" 2>&1
t_grep "$T_DIR/s2c" "^RCPT z@null\\.example 5[0-9][0-9] " "2: a null-routed domain is refused"
send_sm alice@sender.test w@a.sub.example.org >"$T_DIR/s2d" 2>&1
t_grep "$T_DIR/s2d" "^RCPT w@a\\.sub\\.example\\.org 550 " "2: a subdomain entry is not relayed by the static access map"
send_sm alice@sender.test v@sub.example.com >"$T_DIR/s2e" 2>&1
t_grep "$T_DIR/s2e" "^RCPT v@sub\\.example\\.com 550 " "2: a subdomain of a listed domain is not relayed (relay_hosts_only)"

# 3. a new route: export again, makemap, and Sendmail uses it
echo "new.example [127.0.0.1]:$PN" >>"$T_DIR/etc/routes"
hup_milter
make_maps
t_ok $? "3: maps rebuilt after a routes change"
sleep 1
send_sm alice@sender.test nina@new.example >"$T_DIR/s3" 2>&1
t_grep "$T_DIR/s3" "^DATA 250 " "3: the new domain is accepted without restarting Sendmail"
wait_until 30 have_msgs "$N" 1
t_eq "$(count_msgs "$N")" 1 "3: ... and delivered at its port"
t_eq "$(count_msgs "$S")" 0 "no bounce anywhere"

t_done
