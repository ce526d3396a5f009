#!/bin/sh
# test_notify - the customer hears when their server is down: the scripted
# SMTP peer is the customer's server (down: its port closed), a stand-in for
# sendmail(1) keeps each notice it is handed in a directory. One notice per
# outage, after notify_after; one when deliveries succeed again; many
# transport processes at once still send one; a contact inside the failing
# domain is a configuration error naming file:line.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv

. "$MXPORT_SRCDIR/tests/lib/transport.sh"
ROUTE="$MXPORT_BUILDDIR/mxport-route"
STATE="$T_DIR/state"
NOTICES="$T_DIR/notices"
mkdir -p "$STATE" "$NOTICES"
chown nobody "$STATE" "$NOTICES"

notice_sink

PORT=$(free_port) # the customer's server: closed while it is down

CONF_DEFAULTS="allowed_networks = 127.0.0.0/8
dns_servers = 127.0.0.1:9
dns_timeout = 1s
connect_timeout = 2s
command_timeout = 3s
notify_after = 2s
state_directory = $STATE
sendmail_path = $T_DIR/sendmail
helo_name = relay.test"

# xport QUEUE_ID RCPT... - one run as pipe(8) would; sets RC and OUT
xport() {
	qid=$1
	shift
	run_transport "$qid" alice@sender.test "$T_DIR/plain" "$@"
	notices_settle
}

# notices_reach N - until sendmail was handed N notices (30 s at most)
notices_reach() {
	n_=0
	while [ "$(notices)" -lt "$1" ] && [ $n_ -lt 300 ]; do
		sleep 0.1
		n_=$((n_ + 1))
	done
}

# notices - how many notices sendmail was handed
notices() {
	ls "$NOTICES" | grep -c '^notice\..*\.eml$'
}

# last_notice - the newest notice's file
last_notice() {
	ls "$NOTICES"/notice.*.eml | sort | tail -1
}

printf 'Subject: plain\r\n\r\nhello\r\n' >"$T_DIR/plain"

# --- one outage: one notice after notify_after, one at recovery --------------
conf one "example.com [127.0.0.1]:$PORT notify=Owner@Elsewhere.TEST"
xport Q1 bob@example.com
t_eq "$RC" 75 "server down: the mail is deferred as always"
t_eq "$(notices)" 0 "first deferral: no notice yet (notify_after = 2s)"
t_ok "$([ -f "$STATE/notify/example.com" ]; echo $?)" "first deferral: the outage is kept on disk"
t_eq "$(stat -c %U "$STATE/notify/example.com")" nobody "the state file belongs to the transport's user"
xport Q2 bob@example.com carol@example.com
t_eq "$(notices)" 0 "second message within notify_after: no notice"
sleep 2.2
xport Q1 bob@example.com
t_eq "$RC" 75 "after notify_after: still deferred"
t_eq "$(notices)" 1 "after notify_after: exactly one notice"
N=$(last_notice)
t_grep "$N" '^ARGS: -i -f <> -- Owner@elsewhere\.test$' "notice: sendmail -i -f <> -- contact (null sender; domain lowercased, local part kept)"
t_grep "$N" '^To: Owner@elsewhere\.test$' "notice: To: the contact"
t_grep "$N" '^Subject: Mail for example\.com is waiting' "notice: Subject names the domain"
t_grep "$N" '^Auto-Submitted: auto-generated$' "notice: Auto-Submitted"
t_grep "$N" '^From: Mail relay relay\.test <MAILER-DAEMON@relay\.test>$' "notice: From: the relay"
t_grep "$N" '^Since .* \([0-9]+s ago\)' "notice: says since when"
t_grep "$N" '^Messages waiting:  2 ' "notice: two distinct messages wait (Q1 counted once)"
t_grep "$N" '^Oldest: +queue id Q1, first deferred ' "notice: the oldest message"
t_grep "$N" "^Last error: +connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$PORT: Connection refused$" "notice: the last error as the transport logged it"
t_grep "$N" "^Route: +$T_DIR/one\.routes:1$" "notice: the route (file:line)"
t_grep "$N" '^    ETRN example\.com$' "notice: how to have it delivered at once (ETRN)"
t_grep "$N" '^    postqueue -s example\.com$' "notice: and postqueue -s"
t_grep "$LOG" 'Q1: notify: example\.com: deliveries failing since [0-9]+ s: notice to <Owner@elsewhere\.test>, 2 message\(s\) waiting' "notice logged"
t_grep "$LOG" "Q1: to=<bob@example\.com>, .*status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$PORT: Connection refused\)" "the error text in the notice is the logged one"

xport Q3 bob@example.com
xport Q4 bob@example.com
t_eq "$(notices)" 1 "more deferrals: no second notice"

start_peer back "{\"port\": $PORT}"
xport Q1 bob@example.com
t_eq "$RC" 0 "server back: delivered"
t_eq "$(notices)" 2 "server back: a recovery notice"
N=$(last_notice)
t_grep "$N" '^Subject: Mail for example\.com is delivered again$' "recovery notice: Subject"
t_grep "$N" '^Messages that waited: 4;' "recovery notice: four messages had waited"
t_ok "$([ ! -e "$STATE/notify/example.com" ]; echo $?)" "server back: the outage is closed on disk"
xport Q5 bob@example.com
t_eq "$(notices)" 2 "deliveries go on: no more notices"

# --- a second outage: a second pair --------------------------------------
stop_peer back
xport Q6 bob@example.com
t_eq "$RC" 75 "second outage: deferred"
sleep 2.2
xport Q7 bob@example.com
t_eq "$(notices)" 3 "second outage: its own notice"
t_grep "$(last_notice)" '^Messages waiting:  2 ' "second outage: counts only its own messages"
start_peer back2 "{\"port\": $PORT}"
xport Q8 bob@example.com
t_eq "$(notices)" 4 "second outage over: its recovery notice"

# --- short outage: closed before notify_after, nobody is told ------------------
stop_peer back2
xport Q9 bob@example.com
start_peer back3 "{\"port\": $PORT}"
xport Q9 bob@example.com
t_eq "$RC" 0 "short outage: delivered"
t_eq "$(notices)" 4 "outage shorter than notify_after: no notice, no recovery notice"
t_ok "$([ ! -e "$STATE/notify/example.com" ]; echo $?)" "short outage: closed on disk"

# --- a restart between the deferrals: the state is on disk ---------------------
stop_peer back3
xport R1 bob@example.com
sleep 2.2
conf one "example.com [127.0.0.1]:$PORT notify=owner@elsewhere.test" # an edit: a fresh load
xport R2 bob@example.com
t_eq "$(notices)" 5 "the outage survives a new process and a reload: notice"

# --- sendmail does not take the notice: tried again at the next deferral ----------
start_peer back4 "{\"port\": $PORT}"
xport R3 bob@example.com
t_eq "$(notices)" 6 "recovery after the restart test"
stop_peer back4
xport S1 bob@example.com
sleep 2.2
touch "$T_DIR/sendmail.fail"
xport S2 bob@example.com
t_eq "$RC" 75 "sendmail fails: the mail is still just deferred"
t_eq "$(notices)" 6 "sendmail fails: no notice"
t_grep "$LOG" 'S2: notify: example\.com: notice to <owner@elsewhere\.test> not queued \(tried again at the next deferral\): .*/sendmail exited with status 75: sendmail: fatal: no queue space$' "sendmail failure logged, with the first line sendmail said"
rm -f "$T_DIR/sendmail.fail"
xport S3 bob@example.com
t_eq "$(notices)" 7 "sendmail works again: the notice goes out at the next deferral"
t_grep "$(last_notice)" '^Messages waiting:  3 ' "that notice counts all three"

# --- ten transport processes at once: one notice ---------------------------------
xport P0 bob@example.com # (still the outage of S1: notified already)
start_peer back5 "{\"port\": $PORT}"
xport P0 bob@example.com
t_eq "$(notices)" 8 "recovery before the parallel test"
stop_peer back5
xport P0 bob@example.com
sleep 2.2
pids=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	as_user "$TRANSPORT" -c "$CONF" -q "P$i" -f alice@sender.test -- bob@example.com \
		<"$T_DIR/plain" >"$T_DIR/xout.$i" 2>&1 &
	pids="$pids $!"
done
rcs=""
for p in $pids; do
	wait "$p"
	rcs="$rcs $?"
done
notices_settle
t_eq "$rcs" " 75 75 75 75 75 75 75 75 75 75" "10 transports at once: each defers its message"
t_eq "$(notices)" 9 "10 transports at once: exactly one notice"
start_peer back6 "{\"port\": $PORT}"
xport P0 bob@example.com
t_eq "$(notices)" 10 "after the parallel deferrals: one recovery notice"
t_grep "$(last_notice)" '^Messages that waited: 11;' "every one of the 11 messages was counted (no update lost)"
stop_peer back6

# --- domains without a contact, and bounces -----------------------------------
conf none "example.com [127.0.0.1]:$PORT"
xport N1 bob@example.com
sleep 2.2
xport N2 bob@example.com
t_eq "$(notices)" 10 "no contact: no notice"
t_ok "$([ ! -e "$STATE/notify/example.com" ]; echo $?)" "no contact: no state"

# --- notify_map: the contact of a domain without notify= ---------------------------
printf '# the DNS host'"'"'s contacts\nexample.net   ops@elsewhere.test\n' >"$T_DIR/notify.map"
conf map "example.net [127.0.0.1]:$PORT" "notify_map = $T_DIR/notify.map"
xport M1 bob@example.net
sleep 2.2
xport M2 bob@example.net
t_eq "$(notices)" 11 "notify_map: the domain's contact is told"
t_grep "$(last_notice)" '^To: ops@elsewhere\.test$' "notify_map: to the mapped address"

# --- the relay's DNS down: the route cannot be looked up, no outage is counted ----
printf 'dnsdown.test ops@elsewhere.test\n' >"$T_DIR/dnsdown.map"
conf dnsdown "" "dns_routes = yes" "notify_map = $T_DIR/dnsdown.map"
xport E1 bob@dnsdown.test
t_eq "$RC" 75 "route lookup fails for now (no name server answers): deferred"
t_ok "$([ ! -e "$STATE/notify/dnsdown.test" ]; echo $?)" "route lookup failed: not counted against the customer's server"

# --- an SRV-routed domain: its contact from notify_map; MX-delivered: never -----
sed -e "s/@PORT1@/$PORT/" -e "s/@PORT2@/$PORT/" -e "s/@CLOSED@/$PORT/" \
	"$MXPORT_SRCDIR/tests/transport/transport.zone.in" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.
printf 'srvmail.test ops@elsewhere.test\nplain.test ops@elsewhere.test\n' >"$T_DIR/srv.map"
conf srv "" "dns_routes = yes" "notify_map = $T_DIR/srv.map" "mx_port = $PORT"
sed -i "s/^dns_servers = .*/dns_servers = 127.0.0.1:$NSD_PORT/" "$CONF"
before=$(notices)
xport D1 bob@srvmail.test carol@plain.test
t_eq "$RC" 75 "SRV route and MX delivery, both down: deferred"
t_ok "$([ -f "$STATE/notify/srvmail.test" ]; echo $?)" "SRV-routed domain with a notify_map contact: outage kept"
t_ok "$([ ! -e "$STATE/notify/plain.test" ]; echo $?)" "domain delivered by MX (not forwarded): not tracked"
sleep 2.2
xport D2 bob@srvmail.test
t_eq "$(notices)" $((before + 1)) "SRV-routed domain: one notice"
t_grep "$(last_notice)" '^To: ops@elsewhere\.test$' "SRV-routed domain: to its notify_map contact"
t_grep "$(last_notice)" '^Route: +_smtp\._tcp\.srvmail\.test' "SRV-routed domain: the route is the SRV name"

# --- a long error text: the notice keeps its lines short -------------------------
long=$(python3 -c 'print(" ".join(["word%d" % i for i in range(80)]) + " " + "x" * 300)')
start_peer busy "{\"rcpt\": \"450 4.2.0 $long\"}"
conf busy "example.biz [127.0.0.1]:$PEER_PORT notify=owner@elsewhere.test"
before=$(notices)
xport B1 bob@example.biz
sleep 2.2
xport B2 bob@example.biz
t_eq "$(notices)" $((before + 1)) "server answers 450 to every RCPT: the deliveries fail, one notice"
t_eq "$(awk 'length > 78 { n++ } END { print n + 0 }' "$(last_notice)")" 0 "a 900-character error: no line of the notice over 78 characters"
t_grep "$(last_notice)" '^ +x{20,}' "the long error is all there, folded"
stop_peer busy

# --- the LMTP daemon: its SIGCHLD reaper must not take sendmail's status ------------
conf lmtp "example.org [127.0.0.1]:$PORT notify=owner@elsewhere.test"
mkdir -p "$T_DIR/run"
chown nobody "$T_DIR/run"
# (group postfix: the LMTP socket's group, socket_group, as for Postfix's lmtp(8))
setpriv --reuid=nobody --regid=nogroup --groups=postfix -- \
	"$TRANSPORT" -c "$CONF" -L "unix:$T_DIR/run/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
LMTP_PID=$!
T_PIDS="$T_PIDS $LMTP_PID"
wait_for "LMTP daemon" test -S "$T_DIR/run/lmtp.sock"
before=$(notices)
python3 - "$T_DIR/run/lmtp.sock" >"$T_DIR/lmtp.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def reply():
    while True:
        line = f.readline().decode()
        if not line or line[3:4] != "-":
            return line.strip()
def cmd(c):
    f.write(c.encode() + b"\r\n"); f.flush()
    return reply()
reply()
cmd("LHLO relay.test")
for i in range(3):
    if i:
        time.sleep(1.3)
    cmd("MAIL FROM:<alice@sender.test>")
    cmd("RCPT TO:<bob@example.org>")
    cmd("DATA")
    f.write(b"Subject: lmtp\r\n\r\nhello\r\n.\r\n"); f.flush()
    print("DATA", reply())
cmd("QUIT")
PY
t_eq "$(grep -c '^DATA 4' "$T_DIR/lmtp.out")" 3 "LMTP daemon: three messages deferred"
notices_reach $((before + 1))
t_eq "$(notices)" $((before + 1)) "LMTP daemon: one notice over one session"
t_grep "$LOG" 'notify: example\.org: deliveries failing since [0-9]+ s: notice to <owner@elsewhere\.test>' "LMTP daemon: the notice is recorded as sent (sendmail's exit status was ours)"
t_nogrep "$LOG" 'notify: .*waitpid' "LMTP daemon: no lost child status"
kill "$LMTP_PID"

# --- hostile state: a symbolic link where the state file goes -------------------
conf one "example.com [127.0.0.1]:$PORT notify=owner@elsewhere.test"
echo precious >"$T_DIR/victim"
chmod 666 "$T_DIR/victim"
ln -s "$T_DIR/victim" "$STATE/notify/example.com.new"
xport H1 bob@example.com
t_eq "$RC" 75 "symbolic link in the state directory: the mail is still deferred"
t_eq "$(cat "$T_DIR/victim")" precious "symbolic link: not followed (O_NOFOLLOW)"
t_grep "$LOG" 'H1: notify: example\.com\.new: ' "symbolic link: a warning names the file"
rm -f "$STATE/notify/example.com.new"
chmod 777 "$STATE/notify"
xport H2 bob@example.com
t_eq "$RC" 75 "state directory writable by others: mail still deferred"
t_grep "$LOG" "H2: notify: $STATE/notify: must belong to this user" "state directory writable by others: refused, named"
chmod 700 "$STATE/notify"

# --- hostile state and queue ids ------------------------------------------------
head -c 3000 /dev/urandom | tr -d '\000' >"$STATE/notify/example.com"
chown nobody "$STATE/notify/example.com"
xport "$(printf '../x\nevil')" bob@example.com
t_eq "$RC" 75 "garbage state file: the mail is still deferred"
t_grep "$STATE/notify/example.com" '^since [0-9]+$' "garbage state file: replaced by a fresh outage"
t_grep "$STATE/notify/example.com" '^id [0-9]+ \.\._x_evil$' "a queue id with / and a newline: kept as one harmless word"
t_ok "$([ ! -e "$STATE/x" ] && [ ! -e "$STATE/notify/x" ]; echo $?)" "a queue id names no file"
printf 'since 1\000\n' >"$STATE/notify/example.com"
xport G1 bob@example.com
t_eq "$RC" 75 "state file with a NUL byte: the mail is still deferred"
t_grep "$LOG" 'G1: notify: example\.com: unreadable: not tracking the outage' "state file with a NUL byte: a warning names it"
rm -f "$STATE/notify/example.com"

# --- mxport-route shows the contact ----------------------------------------------
conf show "example.com [127.0.0.1]:$PORT notify=owner@elsewhere.test"
"$ROUTE" -c "$CONF" example.com >"$T_DIR/rout" 2>&1
t_grep "$T_DIR/rout" '^  notify: owner@elsewhere\.test \(when deliveries fail for 2s\)$' "mxport-route DOMAIN: shows the contact"
conf show "example.net [127.0.0.1]:$PORT" "notify_map = $T_DIR/notify.map"
"$ROUTE" -c "$CONF" -n >"$T_DIR/rout" 2>&1
t_eq "$?" 0 "mxport-route -n: a good notify_map passes"
"$ROUTE" -c "$CONF" example.net >"$T_DIR/rout" 2>&1
t_grep "$T_DIR/rout" '^  notify: ops@elsewhere\.test ' "mxport-route DOMAIN: shows the contact from notify_map"

# --- a contact inside the failing domain: configuration error ------------------
check() { # check ROUTES_LINE PATTERN DESC [EXTRA...]
	line=$1
	pat=$2
	desc=$3
	shift 3
	conf bad "$line" "$@"
	"$ROUTE" -c "$CONF" -n >"$T_DIR/rout" 2>&1
	rc=$?
	t_eq "$rc" 78 "mxport-route -n: $desc: configuration error"
	t_grep "$T_DIR/rout" "$pat" "mxport-route -n: $desc: names file:line"
}
check "example.com [127.0.0.1]:$PORT notify=owner@example.com" "bad\.routes:1: notify=owner@example\.com: the contact is inside example\.com" "contact in the domain"
check "example.com [127.0.0.1]:$PORT notify=owner@Mail.Example.COM." "bad\.routes:1: notify=.*: the contact is inside example\.com" "contact in a subdomain"
check ".example.org [127.0.0.1]:$PORT notify=owner@x.example.org" "bad\.routes:1: .*inside \.example\.org" "contact below a .parent line"
check "example.com [127.0.0.1]:$PORT notify=-oQ/tmp@elsewhere.test" "bad\.routes:1: notify=-oQ/tmp@elsewhere\.test: not an address" "contact that is a sendmail option"
check "example.com [127.0.0.1]:$PORT notify=a|b@elsewhere.test" "bad\.routes:1: .*not an address" "contact with a pipe"
check "example.com [127.0.0.1]:$PORT notify=owner@" "bad\.routes:1: notify=owner@: " "contact without a domain"
check "example.com [127.0.0.1]:$PORT notify=a@x.test, [127.0.0.1]:25 notify=b@x.test" "bad\.routes:1: .*a second notify=" "two notify= on one line"
printf 'example.net a@elsewhere.test\nexample.org postmaster@example.org\nexample.net b@elsewhere.test\nexample.info\nexample.biz a@b.test extra\n' >"$T_DIR/bad.map"
check "example.com [127.0.0.1]:$PORT" "bad\.map:2: notify=postmaster@example\.org: the contact is inside example\.org" "notify_map contact in the domain" "notify_map = $T_DIR/bad.map"
t_grep "$T_DIR/rout" 'bad\.map:3: example\.net: already listed on line 1' "notify_map: a domain twice"
t_grep "$T_DIR/rout" 'bad\.map:4: example\.info: no contact address' "notify_map: a line without a contact"
t_grep "$T_DIR/rout" 'bad\.map:5: one domain and one address a line' "notify_map: extra words"
conf bad "example.com [127.0.0.1]:$PORT notify=owner@example.com"
xport C1 bob@example.com
t_eq "$RC" 75 "the transport with such a routes file: defers (never loses the mail)"
case "$OUT" in
*"bad.routes:1: notify=owner@example.com: the contact is inside example.com"*) t_ok 0 "the transport: its answer names file:line" ;;
*) t_ok 1 "the transport: its answer names file:line"; echo "# $OUT" ;;
esac
head -c 70000 /dev/zero | tr '\0' a >"$T_DIR/long"
check "example.com [127.0.0.1]:$PORT notify=$(cat "$T_DIR/long")@elsewhere.test" "bad\.routes:1: .*not an address" "a 70000-character contact"

t_done
