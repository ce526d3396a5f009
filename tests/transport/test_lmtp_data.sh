#!/bin/sh
# test_lmtp_data - the LMTP daemon's reader of DATA (transport/lmtp.c,
# read_data: lines scanned where they were read, runs copied at once, a
# body without dots copied whole by message_prepare) against its edge
# cases, each of which must reach the customer byte for byte as RFC 5321
# says: lone dots and doubled dots, dot-stuffed lines and lone dots at
# every offset of the reader's 16 KB blocks, lines longer than any buffer
# (with and without a leading dot, CR LF or a bare LF at the end, a bare CR
# inside), bare LF and CR, 10 MB with and without a dot line, and 1,000
# recipients the customer accepts, refuses and defers, interleaved (each
# its own reply, in RCPT order; every accepted one in exactly one SMTP
# transaction, every transaction carrying the whole message).
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv cmp
. "$MXPORT_SRCDIR/tests/lib/transport.sh"

start_peer cust '{"rcpt_match": [["bad[0-9]+@dom\\.test", "550 5.1.1 no such user"], ["full[0-9]+@dom\\.test", "450 4.2.1 try again later"]]}'
conf data "dom.test [127.0.0.1]:$PEER_PORT tls=none" "allowed_networks = 127.0.0.0/8" "line_length_limit = 0"
mkdir -p "$T_DIR/cases"
python3 "$MXPORT_SRCDIR/tests/lib/lmtpcases.py" "$T_DIR/cases" dom.test -- \
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$TRANSPORT" -c "$CONF" -L - >"$T_DIR/drive.out" 2>&1
t_ok $? "the LMTP session ran to its end ($(tail -n 1 "$T_DIR/drive.out"))"
R="$T_DIR/cases/replies"

# got NAME FILE - the peer's message FILE, without mxport's loop field, equals expect.NAME
got() {
	grep -av '^X-Loop-Mxport: ' "$2" >"$T_DIR/got.$1" 2>/dev/null
	cmp -s "$T_DIR/got.$1" "$T_DIR/cases/expect.$1"
}
# the peer's messages in the order they came (msg.SESSION.N: msg.1, msg.1.2, ...)
msgs=$(ls "$PEER_DIR" | grep '^msg\.' | sort -t . -k 2,2n -k 3,3n | sed "s|^|$PEER_DIR/|")
# shellcheck disable=SC2086 # one word a file (the peer names them)
set -- $msgs x x x x x x x
t_eq "$(ls "$PEER_DIR" | grep -c '^session\.')" 1 "one SMTP session carried every case"
for name in dots bare blocks long longlf big bigdot; do
	t_grep "$R" "^$name DATA $name@dom\.test 250 " "$name: delivered"
	got "$name" "$1"
	t_ok $? "$name: the customer got it byte for byte ($(wc -c <"$T_DIR/cases/expect.$name") bytes)"
	shift
done

# many: 1,000 recipients in transactions of transaction_recipient_limit (100)
t_eq "$(grep -c '^many RCPT .* 250 ' "$R")" 1000 "many: the LMTP daemon accepted all 1,000 recipients"
t_eq "$(grep -c '^many DATA u[0-9]*@dom\.test 250 ' "$R")" 800 "many: the 800 the customer took: 250 each"
t_eq "$(grep -c '^many DATA bad[0-9]*@dom\.test 550 5\.1\.1 ' "$R")" 100 "many: the 100 it refused: 550 5.1.1 each"
t_eq "$(grep -c '^many DATA full[0-9]*@dom\.test 451 4\.2\.1 ' "$R")" 100 "many: the 100 it deferred: 451 4.2.1 each"
t_eq "$(grep -c '^many DATA ' "$R")" 1000 "many: one reply after the dot for each recipient"
grep '^many RCPT ' "$R" | awk '{print $3}' >"$T_DIR/order.rcpt"
grep '^many DATA ' "$R" | awk '{print $3}' >"$T_DIR/order.data"
cmp -s "$T_DIR/order.rcpt" "$T_DIR/order.data"
t_ok $? "many: the replies after the dot come in RCPT order"
bad=0
n=0
: >"$T_DIR/many.rcpts"
for m in "$@"; do
	[ "$m" = x ] && continue
	n=$((n + 1))
	got many "$m" || bad=$((bad + 1))
	grep '^RCPT TO:' "$(echo "$m" | sed 's|/msg\.|/env.|')" >>"$T_DIR/many.rcpts"
done
t_eq "$n" 10 "many: ten SMTP transactions (transaction_recipient_limit = 100)"
t_eq "$bad" 0 "many: each carried the message byte for byte"
t_eq "$(sort -u "$T_DIR/many.rcpts" | wc -l)" 800 "many: the customer took 800 recipients"
t_eq "$(wc -l <"$T_DIR/many.rcpts")" 800 "many: ... each in one transaction"
t_nogrep "$T_DIR/many.rcpts" "bad|full" "many: none it refused or deferred"
t_done
