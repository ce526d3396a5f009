#!/bin/sh
# test_lmtp_session - one LMTP session written whole before the daemon
# reads any of it (tests/lib/lmtpsession.py: every body there before its
# 354), read from a file so that the daemon's 16 KB reads put the cases'
# dots, CRs and end markers at known places of its buffer: a second MAIL
# with a bad path after a RCPT (503; it once left the recipients without a
# sender, and DATA crashed the process), lines of 8 and 16 KB +-1 with a
# dot or a CR at the edges, ".\r\n" across reads, a body all dots, a bare CR
# before the end marker, 70 KB lines, one RCPT over lmtp_recipient_limit,
# and a DATA cut off in a 10 MB line without a newline. Every reply in
# order, every message byte for byte, nothing of the cut one. Then a
# session through a pipe in pieces, each read whole before the next is
# written: ".\r\n" split after the dot and after the CR, a stuffed dot at
# the end of a read, a CR LF split, an 8 KB line split before its LF.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv cmp
. "$MXPORT_SRCDIR/tests/lib/transport.sh"

start_peer cust '{}'
conf sess "dom.test [127.0.0.1]:$PEER_PORT tls=none" "allowed_networks = 127.0.0.0/8" \
	"line_length_limit = 0" "lmtp_recipient_limit = 3" "connection_cache_time = 60s"
mkdir -p "$T_DIR/cases"
python3 "$MXPORT_SRCDIR/tests/lib/lmtpsession.py" "$T_DIR/cases" dom.test
t_ok $? "the session's cases written"
chmod 644 "$T_DIR/cases/session"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$TRANSPORT" -c "$CONF" -L - <"$T_DIR/cases/session" >"$T_DIR/replies" 2>"$T_DIR/stderr"
t_eq "$?" 0 "the daemon ended the session itself (no crash) ($(tail -n 1 "$T_DIR/stderr"))"
# the code of each reply's last line
grep -a '^[0-9][0-9][0-9] ' "$T_DIR/replies" | cut -c1-3 >"$T_DIR/codes"
cmp -s "$T_DIR/codes" "$T_DIR/cases/codes"
t_ok $? "every reply in order ($(wc -l <"$T_DIR/codes") of $(wc -l <"$T_DIR/cases/codes"))"
t_grep "$T_DIR/replies" '^503 5\.5\.1 Error: nested MAIL command' "a second MAIL in a transaction: 503"
t_grep "$T_DIR/replies" '^452 4\.5\.3 ' "the RCPT over lmtp_recipient_limit: 452"

# peer_msgs - the peer's messages in the order they came (msg.SESSION.N: msg.1, msg.1.2, ...)
peer_msgs() {
	ls "$PEER_DIR" | grep '^msg\.' | sort -t . -k 2,2n -k 3,3n | sed "s|^|$PEER_DIR/|"
}
# compare_msgs PREFIX - BAD: how many of the peer's messages, without the
# loop header, differ from $T_DIR/cases/PREFIXexpect.N (each one named)
compare_msgs() {
	n=0
	BAD=0
	for m in $(peer_msgs); do
		n=$((n + 1))
		grep -av '^X-Loop-Mxport: ' "$m" >"$T_DIR/${1}got.$n"
		cmp -s "$T_DIR/${1}got.$n" "$T_DIR/cases/${1}expect.$n" || {
			BAD=$((BAD + 1))
			echo "# ${1}message $n differs: $(cmp "$T_DIR/${1}got.$n" "$T_DIR/cases/${1}expect.$n" 2>&1)"
		}
	done
}

want=$(ls "$T_DIR/cases" | grep -c '^expect\.')
t_eq "$(peer_msgs | grep -c .)" "$want" "the customer got each accepted message once, the cut one not"
compare_msgs ""
t_eq "$BAD" 0 "each of them byte for byte"
t_grep "$PEER_DIR/env.1" '^MAIL FROM:<first@sender\.test>' "the nested case went with the first sender"
t_eq "$(grep -l '^RCPT TO:<lim[0-9]@dom\.test>' "$PEER_DIR"/env.* | wc -l)" 1 "the limit case: one transaction"
t_eq "$(grep -ch '^RCPT TO:<lim[0-9]@dom\.test>' "$PEER_DIR"/env.* | awk '{ s += $1 } END { print s }')" 3 "... to the three recipients accepted"
t_nogrep "$LOG" 'to=<cut@dom\.test>' "the cut message: not delivered, not logged"

# --split: pieces through a pipe, each read whole before the next is written
start_peer split '{}'
conf split "dom.test [127.0.0.1]:$PEER_PORT tls=none" "allowed_networks = 127.0.0.0/8" \
	"line_length_limit = 0" "connection_cache_time = 60s"
python3 "$MXPORT_SRCDIR/tests/lib/lmtpsession.py" "$T_DIR/cases" dom.test --split -- \
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$TRANSPORT" -c "$CONF" -L - 2>"$T_DIR/split.stderr"
t_eq "$?" 0 "split: the session ran to its QUIT ($(tail -n 1 "$T_DIR/split.stderr"))"
grep -a '^[0-9][0-9][0-9] ' "$T_DIR/cases/split.replies" | cut -c1-3 >"$T_DIR/split.codes"
cmp -s "$T_DIR/split.codes" "$T_DIR/cases/split.codes"
t_ok $? "split: every reply in order ($(wc -l <"$T_DIR/split.codes") of $(wc -l <"$T_DIR/cases/split.codes"))"
t_eq "$(peer_msgs | grep -c .)" "$(ls "$T_DIR/cases" | grep -c '^split\.expect\.')" "split: each message once"
compare_msgs split.
t_eq "$BAD" 0 "split: each of them byte for byte"
t_done
