#!/bin/sh
# test_verify_attack - what an outside sender (or a local user at the
# socketmap) can do to recipient verification: a recipient of its choosing
# that the relay will not send (a control character, UTF-8 to a server
# without SMTPUTF8) must not mark the domain's server down, which would make
# every recipient of the domain unverifiable (451 with tempfail, or accepted
# unverified); and RCPTs for a domain whose server takes the connection and
# never answers hold at most a few callouts at once, so that the socketmap
# (and Postfix's smtpd processes) stay free for everything else.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 setpriv

# run as other users: a copy in T_DIR (t_share), reachable wherever the clone is
PROBE=$(t_share "$MXPORT_SRCDIR/tests/lib/sockprobe.py")
PY=/usr/bin/python3 # the system python: user postfix cannot reach root's own (pyenv)
need "$PY"
SM="$T_DIR/run/socketmap.sock"

# lookup MAP KEY - the socketmap's answer, asked as user postfix
lookup() {
	setpriv --reuid=postfix --regid=postfix --init-groups -- "$PY" "$PROBE" socketmap "$SM" "$1" "$2"
}

start_peer cust '{"rcpt_match": [["nobody.*", "550 5.1.1 no such user"], ["blocked.*", "550 5.7.1 your IP is on our blocklist"]]}'
PC=$PEER_PORT
start_peer noutf '{"ehlo": ["PIPELINING", "8BITMIME"]}'
PU=$PEER_PORT
start_peer stall '{"delay": {"rcpt": 30}}'
PST=$PEER_PORT
PF_PORT=$(free_port)
MXPORT_EXTRA_CONF="verify_timeout = 5s
verify_unreachable = tempfail
socketmap_max_clients = 5"
setup_mxport "example.com [127.0.0.1]:$PC verify=yes
noutf.example [127.0.0.1]:$PU verify=yes
stall.example [127.0.0.1]:$PST verify=yes"
start_milter

# --- a recipient of the sender's choosing does not mark the domain down ---
t_eq "$(lookup verify bob@example.com)" "OK DUNNO" "a known user passes"
lookup verify "$(printf 'a\001b@example.com')" >"$T_DIR/ctl" 2>&1
t_eq "$(lookup verify carol@example.com)" "OK DUNNO" \
	"after a recipient with a control character: another user of the domain still passes"
lookup verify "$(printf 'j\303\274rgen@noutf.example')" >"$T_DIR/utf8" 2>&1
t_grep "$T_DIR/utf8" "^OK 451 4\\.4\\.1 " "a UTF-8 recipient, server without SMTPUTF8: unverifiable (451)"
t_eq "$(lookup verify dave@noutf.example)" "OK DUNNO" \
	"after it: an ASCII user of that domain still passes (its server is not marked down)"

# --- a refusal that speaks of the relay, not of the address, is not kept ---
# callouts RCPT - the customer's sessions that asked for RCPT
callouts() {
	grep -l "^RCPT TO:<$1" "$T_DIR"/peer.cust/session.* 2>/dev/null | wc -l
}
lookup verify nobody@example.com >"$T_DIR/nobody1" 2>&1
lookup verify nobody@example.com >"$T_DIR/nobody2" 2>&1
t_grep "$T_DIR/nobody2" "^OK 550 5\\.1\\.1 no such user" "an unknown user: 550 5.1.1"
t_eq "$(callouts nobody@)" 1 "... kept: asked once"
lookup verify blocked@example.com >"$T_DIR/blocked1" 2>&1
lookup verify blocked@example.com >"$T_DIR/blocked2" 2>&1
t_grep "$T_DIR/blocked2" "^OK 550 5\\.7\\.1 " "a 550 5.7.1 of the customer: refused"
t_eq "$(callouts blocked@)" 2 "... not kept (it speaks of the relay): asked again"

# --- a server that never answers RCPT: callouts to it are bounded ---
i=1
pids=
while [ $i -le 5 ]; do
	lookup verify "x$i@stall.example" >"$T_DIR/stall.$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
sleep 1.5
t0=$(date +%s%N)
r=$(lookup relay example.com)
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
t_eq "$r" "OK forwarded" "while the stalled callouts run: a relay lookup is answered"
t_ok "$([ "$ms" -lt 1500 ]; echo $?)" "... at once (${ms} ms), not after a callout's timeout"
for p in $pids; do wait "$p"; done
t_eq "$(grep -l '^OK 451 4\.4\.1 ' "$T_DIR"/stall.* | wc -l)" 5 "the stalled recipients: 451 each"
t_ok "$([ "$(grep -c 'verify <x[0-9]@stall\.example>: relay=none' "$MXLOG")" -ge 1 ]; echo $?)" \
	"beyond the bound a recipient is not asked (relay=none)"
t_ok "$([ "$(grep -l '^RCPT TO:<x' "$T_DIR"/peer.stall/session.* 2>/dev/null | wc -l)" -le 4 ]; echo $?)" \
	"at most 4 callouts reached the stalled server"
kill -0 "$MILTER_PID"
t_ok $? "mxport-milter still running"

t_done
