#!/bin/sh
# test_postfix_loop - a route back to another SMTP port of this relay's own
# Postfix (a port local_ports does not list, as an SRV record can name
# one): the copy that comes back carries the transport's X-Loop-Mxport
# field and bounces with 5.4.6 on its first return, instead of going round
# until Postfix's hop limit (48 hops, each copy relayed again).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

start_peer senders '{}'
PS=$PEER_PORT
S="$PEER_DIR"
start_peer custA '{}'
PA=$PEER_PORT
A="$PEER_DIR"

PF_PORT=$(free_port)
PF_PORT2=$(free_port)
setup_mxport "loop.example [127.0.0.1]:$PF_PORT2
example.com [127.0.0.1]:$PA"
start_milter
start_postfix "$PS"
# A second smtpd of the same Postfix, as a submission or alternate port is.
echo "127.0.0.1:$PF_PORT2 inet n - n - - smtpd" >>"$PF/etc/master.cf"
postfix -c "$PF/etc" reload >>"$PF/check.log" 2>&1
wait_for "postfix smtpd on the second port" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PF_PORT2)).close()"

send_mail alice@sender.test bob@loop.example >"$T_DIR/s1" 2>&1
t_ok $? "loop: message accepted by the relay"
wait_until 30 have_msgs "$S" 1
t_eq "$(count_msgs "$S")" 1 "loop: one bounce reached the sender"
bounce=$(ls "$S"/msg.* 2>/dev/null | head -1)
t_grep "$bounce" "Status: 5\.4\.6" "loop: the bounce says 5.4.6"
t_grep "$bounce" "loops back to myself" "loop: the bounce says why"
sent=$(grep -c "to=<bob@loop\.example>, relay=.*status=sent" "$MXLOG")
t_eq "$sent" 1 "loop: the transport relayed it once (the copy that came back), not 48 times"
t_grep "$MXLOG" "to=<bob@loop\.example>, relay=none, .*dsn=5\.4\.6, status=bounced \(mail for loop\.example loops back to myself \(it carries X-Loop-Mxport: loop\.example by relay\.test" "loop: the returning copy bounced on its first return"
t_nogrep "$PF/maillog" "too many hops" "loop: Postfix's hop limit never came into it"

# Mail relayed to a customer carries the field; the customer's server
# sending it back for another forwarded domain is no loop.
send_mail alice@sender.test carol@example.com >"$T_DIR/s2" 2>&1
wait_until 20 have_msgs "$A" 1
t_grep "$A/msg.1" "^X-Loop-Mxport: example\.com by relay\.test.?$" "customer's copy: carries X-Loop-Mxport for its domain"
t_eq "$(grep -c "^X-Loop-Mxport:" "$A/msg.1")" 1 "customer's copy: one field"
wait_until 10 queue_empty
t_eq "$(pf_queue_count)" 0 "queue empty"

t_done
