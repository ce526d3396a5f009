#!/bin/sh
# test_xforward - the original client reaches the customer's server
# (XFORWARD): through the pipe front (contrib/postfix/milter/master.cf passes
# pipe(8)'s ${client_*}) and the LMTP front (lmtp(8) sends XFORWARD, the
# transport takes it and sends it on). The customer's server is a real
# Postfix authorized for the relay (smtpd_authorized_xforward_hosts), which
# logs the original client; one without authorization gets no XFORWARD and
# still the message; the scripted peer records exactly what was sent.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix setpriv

start_peer sinkA '{}'
SINKA_PORT=$PEER_PORT
SINKA="$PEER_DIR"
start_peer sinkB '{}'
SINKB_PORT=$PEER_PORT
SINKB="$PEER_DIR"
start_peer plain '{}'
PLAIN_PORT=$PEER_PORT
PLAIN="$PEER_DIR"
start_peer xf '{"ehlo": ["PIPELINING", "XFORWARD ADDR HELO", "8BITMIME"]}'
XF_PORT=$PEER_PORT
XF="$PEER_DIR"
start_peer xfbad '{"ehlo": ["XFORWARD ADDR"], "xforward": "501 5.5.4 Bad ADDR syntax"}'
XFBAD_PORT=$PEER_PORT
XFBAD="$PEER_DIR"
start_peer xf421 '{"ehlo": ["XFORWARD ADDR"], "xforward": "421 4.3.2 Shutting down"}'
XF421_PORT=$PEER_PORT
XF421="$PEER_DIR"
start_peer senders '{}'
PS=$PEER_PORT
CXF_PORT=$(free_port)
CPL_PORT=$(free_port)
start_customer_postfix custxf "$CXF_PORT" "$SINKA_PORT" "smtpd_authorized_xforward_hosts = 127.0.0.0/8"
start_customer_postfix custplain "$CPL_PORT" "$SINKB_PORT"
CXF_LOG="$T_DIR/custxf/maillog"
CPL_LOG="$T_DIR/custplain/maillog"

PF_PORT=$(free_port)
setup_mxport "auth.example [127.0.0.1]:$CXF_PORT
noauth.example [127.0.0.1]:$CPL_PORT
plain.example [127.0.0.1]:$PLAIN_PORT
xf.example [127.0.0.1]:$XF_PORT
xfbad.example [127.0.0.1]:$XFBAD_PORT
xf421.example [127.0.0.1]:$XF421_PORT"
start_milter
start_postfix "$PS"
sleep 1

# all_sessions DIR - every line a peer received, all connections
all_sessions() {
	cat "$1"/session.* 2>/dev/null
}

# --- The pipe front: Postfix -> pipe(8) -> mxport-transport -a -n -h -p.
SENDMSG_SOURCE=127.0.0.5 send_mail alice@sender.test u1@auth.example >"$T_DIR/s1" 2>&1
t_ok $? "pipe: message from 127.0.0.5 accepted by the relay"
wait_until 30 have_msgs "$SINKA" 1
t_eq "$(count_msgs "$SINKA")" 1 "pipe: the authorized customer's server got the message"
wait_until 10 grep -q "client=.*\\[127\\.0\\.0\\.5\\]" "$CXF_LOG"
t_grep "$CXF_LOG" "client=unknown\\[127\\.0\\.0\\.1\\], orig_client=unknown\\[127\\.0\\.0\\.5\\]" "pipe: the customer's Postfix logs the original client 127.0.0.5 beside the relay"
t_grep "$PF/maillog" "to=<u1@auth\\.example>, relay=mxport, .*status=sent" "pipe: the relay's Postfix logs it sent"

SENDMSG_SOURCE=127.0.0.5 send_mail alice@sender.test u2@noauth.example >"$T_DIR/s2" 2>&1
t_ok $? "pipe: message for the unauthorized customer accepted"
wait_until 30 have_msgs "$SINKB" 1
t_eq "$(count_msgs "$SINKB")" 1 "pipe: a customer's server without XFORWARD authorization still gets the message"
wait_until 10 grep -q "client=" "$CPL_LOG"
t_grep "$CPL_LOG" "client=[^ ]*\\[127\\.0\\.0\\.1\\]" "pipe: it sees the relay as the client"
t_nogrep "$CPL_LOG" "127\\.0\\.0\\.5|XFORWARD" "pipe: no trace of the original client or XFORWARD there"

SENDMSG_SOURCE=127.0.0.5 send_mail alice@sender.test u3@plain.example >"$T_DIR/s3" 2>&1
wait_until 30 have_msgs "$PLAIN" 1
t_eq "$(count_msgs "$PLAIN")" 1 "pipe: a server that does not offer XFORWARD gets the message"
all_sessions "$PLAIN" >"$T_DIR/plain.cmds"
t_nogrep "$T_DIR/plain.cmds" "^XFORWARD" "pipe: ... and no XFORWARD command"

SENDMSG_SOURCE=127.0.0.5 send_mail alice@sender.test u4@xf.example >"$T_DIR/s4" 2>&1
wait_until 30 have_msgs "$XF" 1
all_sessions "$XF" >"$T_DIR/xf.cmds"
t_grep "$T_DIR/xf.cmds" "^XFORWARD ADDR=127\\.0\\.0\\.5 HELO=client\\.test$" "pipe: only the attributes the server lists (ADDR HELO), with the original values"
t_eq "$(grep -A1 '^XFORWARD' "$T_DIR/xf.cmds" | sed -n 2p)" "MAIL FROM:<alice@sender.test>" "pipe: XFORWARD comes right before MAIL FROM"

# Hostile values on the command line: dropped and logged, never sent.
printf 'Subject: hostile\r\n\r\nbody\r\n' >"$T_DIR/hostile.eml"
before=$(ls "$XF"/session.* | wc -l)
as_user "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -q HOSTILEQ \
	-a "$(printf '127.0.0.1\r\nRCPT TO:<evil@evil.test>')" -n 'a b.example' \
	-h "$(printf 'x\001y')" -p ESMTP -f alice@sender.test -- u5@xf.example <"$T_DIR/hostile.eml" >"$T_DIR/h.out" 2>&1
t_eq "$?" 0 "hostile -a/-n/-h: the message is still delivered"
all_sessions "$XF" >"$T_DIR/xf.cmds"
t_grep "$T_DIR/xf.cmds" "^XFORWARD ADDR=\\[UNAVAILABLE\\] HELO=\\[UNAVAILABLE\\]$" "hostile: the bad values are not sent ([UNAVAILABLE])"
t_nogrep "$T_DIR/xf.cmds" "evil" "hostile: nothing of the injected command reaches the server"
t_grep "$MXLOG" "HOSTILEQ: client attribute ADDR \\(-a\\) dropped, not sent with XFORWARD: not an IP address" "hostile: the dropped address is logged"
t_grep "$MXLOG" "HOSTILEQ: client attribute NAME \\(-n\\) dropped.*character 0x20" "hostile: the dropped name is logged"
t_grep "$MXLOG" "HOSTILEQ: client attribute HELO \\(-h\\) dropped.*character 0x01" "hostile: the dropped HELO is logged"

# A server that refuses XFORWARD: the mail goes on without it, and the log says so.
as_user "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -q REFQ -a 192.0.2.7 \
	-f alice@sender.test -- u12@xfbad.example <"$T_DIR/hostile.eml" >"$T_DIR/h.out" 2>&1
t_eq "$?" 0 "XFORWARD refused (501): the message is still delivered"
t_eq "$(count_msgs "$XFBAD")" 1 "XFORWARD refused: the server has the message"
t_grep "$MXLOG" "REFQ: 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$XFBAD_PORT refused XFORWARD \\(sent without the original client\\): 501 5\\.5\\.4 Bad ADDR syntax" "XFORWARD refused: logged with the server and its reply"
as_user "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -q Q421 -a 192.0.2.7 \
	-f alice@sender.test -- u13@xf421.example <"$T_DIR/hostile.eml" >"$T_DIR/h.out" 2>&1
t_eq "$?" 75 "421 to XFORWARD: deferred"
t_grep "$T_DIR/h.out" "^4\\.3\\.2 .*421 4\\.3\\.2 Shutting down \\(in reply to XFORWARD command\\)" "421 to XFORWARD: the reply, named"
t_eq "$(count_msgs "$XF421")" 0 "421 to XFORWARD: nothing sent"

# --- The LMTP front: Postfix's lmtp(8) sends XFORWARD, the transport passes it on.
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/lmtp/mxport_header_checks" >"$PF/etc/mxport_header_checks"
contrib_paths "$MXPORT_SRCDIR/contrib/postfix/master.cf" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >/dev/null 2>&1
start_lmtp
sleep 1

SENDMSG_SOURCE=127.0.0.6 send_mail alice@sender.test u6@auth.example >"$T_DIR/s6" 2>&1
t_ok $? "lmtp: message from 127.0.0.6 accepted"
wait_until 30 have_msgs "$SINKA" 2
t_eq "$(count_msgs "$SINKA")" 2 "lmtp: the authorized customer's server got it"
wait_until 10 grep -q "client=.*\\[127\\.0\\.0\\.6\\]" "$CXF_LOG"
t_grep "$CXF_LOG" "client=unknown\\[127\\.0\\.0\\.1\\], orig_client=unknown\\[127\\.0\\.0\\.6\\]" "lmtp: the customer's Postfix logs the original client 127.0.0.6"
t_grep "$PF/maillog" "to=<u6@auth\\.example>, relay=.*lmtp\\.sock.*status=sent" "lmtp: delivered through the LMTP front"

# Two messages from two clients: each transaction carries its own client.
SENDMSG_SOURCE=127.0.0.7 send_mail alice@sender.test u7@xf.example >"$T_DIR/s7" 2>&1
SENDMSG_SOURCE=127.0.0.8 send_mail alice@sender.test u8@xf.example >"$T_DIR/s8" 2>&1
wait_until 30 have_msgs "$XF" 4
all_sessions "$XF" >"$T_DIR/xf.cmds"
t_grep "$T_DIR/xf.cmds" "^XFORWARD ADDR=127\\.0\\.0\\.7 HELO=client\\.test$" "lmtp: the first client (127.0.0.7) forwarded"
t_grep "$T_DIR/xf.cmds" "^XFORWARD ADDR=127\\.0\\.0\\.8 HELO=client\\.test$" "lmtp: the second client (127.0.0.8) forwarded, in its own transaction"

SENDMSG_SOURCE=127.0.0.9 send_mail alice@sender.test u9@plain.example >"$T_DIR/s9" 2>&1
wait_until 30 have_msgs "$PLAIN" 2
t_eq "$(count_msgs "$PLAIN")" 2 "lmtp: a server without XFORWARD gets the message"
all_sessions "$PLAIN" >"$T_DIR/plain.cmds"
t_nogrep "$T_DIR/plain.cmds" "^XFORWARD" "lmtp: ... and no XFORWARD command"

# Hostile XFORWARD commands to the LMTP server (stdin/stdout mode).
printf '%s\r\n' "LHLO test" "XFORWARD NAME=a+" "XFORWARD FOO=bar" "XFORWARD" \
	"XFORWARD ADDR=192.0.2.9+0D+0ARSET HELO=good.helo" "XFORWARD NAME=x+00y" \
	"MAIL FROM:<alice@sender.test>" "XFORWARD ADDR=192.0.2.10" "RCPT TO:<u10@xf.example>" \
	"DATA" "Subject: lmtp hostile" "" "body" "." \
	"MAIL FROM:<alice@sender.test>" "RCPT TO:<u11@xf.example>" "DATA" "Subject: next" "" "b" "." \
	"QUIT" >"$T_DIR/lmtp.in"
as_user "$T_DIR/bin/mxport-transport" -c "$T_DIR/etc/mxport.conf" -L - <"$T_DIR/lmtp.in" >"$T_DIR/lmtp.out" 2>&1
tr -d '\r' <"$T_DIR/lmtp.out" >"$T_DIR/lmtp.txt"
t_grep "$T_DIR/lmtp.txt" "^250-XFORWARD NAME ADDR PROTO HELO SOURCE IDENT$" "lmtp: LHLO advertises XFORWARD (IDENT too: the MTA's queue id for the log)"
t_eq "$(grep -c '^501 5\.5\.4' "$T_DIR/lmtp.txt")" 4 "lmtp: bad xtext, an unknown attribute, no attribute, a NUL: 501 each"
t_grep "$T_DIR/lmtp.txt" "^503 5\\.5\\.1 Error: MAIL transaction in progress" "lmtp: XFORWARD inside a transaction: 503"
t_eq "$(grep -c '^250 2\.0\.0 <u1[01]@xf\.example>: sent' "$T_DIR/lmtp.txt")" 2 "lmtp: both messages delivered"
all_sessions "$XF" >"$T_DIR/xf.cmds"
t_grep "$T_DIR/xf.cmds" "^XFORWARD ADDR=\\[UNAVAILABLE\\] HELO=good\\.helo$" "lmtp: the address with CR LF in it dropped, the good HELO kept"
t_nogrep "$T_DIR/xf.cmds" "192\\.0\\.2\\.(9|10)|^RSET" "lmtp: neither the injected value nor the one sent inside the transaction went out"
t_grep "$MXLOG" "lmtp: XFORWARD ADDR dropped, not sent on: not an IP address" "lmtp: the dropped value is logged"
t_eq "$(grep -B1 'RCPT TO:<u11@xf' "$T_DIR/xf.cmds" | grep -c '^XFORWARD')" 0 "lmtp: the next transaction does not inherit the last one's client"

t_done
