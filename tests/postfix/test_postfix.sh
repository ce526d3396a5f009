#!/bin/sh
# test_postfix - end to end on a real Postfix: contrib/postfix pasted into a
# private instance on loopback, mxport-milter, NSD with SRV routes, and the
# customers' servers (the project's peer) on alternate ports.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

# Customers: A (routes file), B (SRV), and the senders' sink for bounces.
start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"
start_peer custB '{}'
PB=$PEER_PORT
B="$PEER_DIR"
start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
CLOSED=$(free_port)
sed -e "s/@PORT_B@/$PB/g" -e "s/@CLOSED@/$CLOSED/g" \
	"$MXPORT_SRCDIR/tests/postfix/postfix.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="dns_routes = yes
dns_servers = 127.0.0.1:$NSD_PORT
dns_timeout = 2s
route_cache_max_ttl = 1s
route_cache_negative_ttl = 1s"
setup_mxport "example.com [127.0.0.1]:$PA
example.net [127.0.0.1]:$PB"
start_milter
start_postfix "$PS"

# 1. routes-file domain
send_mail alice@sender.test bob@example.com "$MXPORT_SRCDIR/tests/postfix/forged.eml" >"$T_DIR/s1" 2>&1
t_ok $? "1: message for a routes-file domain accepted"
wait_until 20 have_msgs "$A" 1
t_eq "$(count_msgs "$A")" 1 "1: delivered to the customer's alternate port"
t_grep "$A/env.1" "^MAIL FROM:<alice@sender\.test>" "1: envelope sender intact"
t_grep "$A/env.1" "^RCPT TO:<bob@example\.com>" "1: envelope recipient intact"
t_nogrep "$A/msg.1" "^[Xx]-[Mm][Xx][Pp][Oo][Rr][Tt]" "1: no tag left (forged ones removed, ours stripped)"
t_grep "$A/msg.1" "^Subject: forged tags" "1: headers intact"
t_grep "$A/msg.1" "^\.\.a line with a leading dot" "1: body intact (dot-stuffed on the wire)"
t_grep "$MXLOG" "to=<bob@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PA, .*status=sent" "1: transport logged the delivery"

t_done
