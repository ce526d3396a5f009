#!/bin/sh
# test_metrics - the per-route numbers in Prometheus's format. The LMTP
# daemon (its connection processes) and a pipe-mode delivery add to one
# metrics_file; the listener writes metrics_textfile every
# metrics_interval, and mxport-route --metrics prints the same. Three
# customer stand-ins: one accepting, one refusing every recipient (550), one
# down (its port closed); routes from the routes file and one from SRV
# records. Checked: promtool check metrics passes; the
# counters agree with what the accepting sink received; a wildcard route hit
# for 50 subdomains is one series; past metrics_max_routes the rest count
# under route="_other" and the series stay bounded; the route's up/down
# state and its timestamps; a metrics_file that cannot be made delays no
# delivery and is logged once.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv promtool nsd
. "$MXPORT_SRCDIR/tests/lib/transport.sh"

ROUTE="$MXPORT_BUILDDIR/mxport-route"
SOCK="$T_DIR/run/lmtp.sock"
STATE="$T_DIR/state"
PROM="$T_DIR/prom/mxport.prom"

start_peer ok '{}'
OK_DIR=$PEER_DIR
OK_PORT=$PEER_PORT
start_peer refuse '{"rcpt": "550 5.1.1 no such user here"}'
REFUSE_DIR=$PEER_DIR
REFUSE_PORT=$PEER_PORT
DOWN_PORT=$(free_port) # nothing listens there: the customer's server is down
# srv.test is routed by its SRV records, to the accepting sink
printf '$ORIGIN test.\n$TTL 3600\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n@ NS ns.test.\nns A 127.0.0.1\n_smtp._tcp.srv SRV 10 0 %s mail.srv.test.\nmail.srv A 127.0.0.1\n' \
	"$OK_PORT" >"$T_DIR/zone"
start_nsd "$T_DIR/zone" test.

mkdir -p "$T_DIR/run" "$STATE" "$T_DIR/prom"
chown nobody "$T_DIR/run" "$STATE" "$T_DIR/prom"
{
	echo "ok.test [127.0.0.1]:$OK_PORT"
	echo ".wild.test [127.0.0.1]:$OK_PORT"
	echo "refuse.test [127.0.0.1]:$REFUSE_PORT"
	echo "down.test [127.0.0.1]:$DOWN_PORT"
	for i in 1 2 3 4 5 6 7 8 9 10; do echo "r$i.test [127.0.0.1]:$OK_PORT"; done
} >"$T_DIR/routes"
chmod 644 "$T_DIR/routes"
# eight routes of their own: ok, .wild, refuse, down, srv.test and three of r1..r10
write_conf "$T_DIR/mxport.conf" "routes_file = $T_DIR/routes" "allowed_networks = 127.0.0.0/8" \
	"dns_routes = yes" "dns_servers = 127.0.0.1:$NSD_PORT" "tls_mode = none" "socket_group = nogroup" \
	"connect_timeout = 5s" "metrics_file = $STATE/metrics" "metrics_max_routes = 8" \
	"metrics_textfile = $PROM" "metrics_interval = 1s"
CONF="$T_DIR/mxport.conf"

setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TRANSPORT" -c "$CONF" \
	-L "unix:$SOCK" >>"$T_DIR/daemon.err" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "the LMTP daemon" grep -q 'lmtp: listening on' "$LOG"
wait_for "the first textfile" test -s "$PROM"
t_grep "$PROM" '^mxport_metrics_routes 0$' "the listener writes the textfile before any mail"

# lmtp MSG... - one LMTP connection; each MSG is "rcpt,rcpt,...": a message
# to those recipients. Prints each recipient's reply after the dot.
cat >"$T_DIR/lmtp.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def reply():
    while True:
        line = f.readline().decode().rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return line
def cmd(c):
    f.write(c.encode() + b"\r\n"); f.flush()
    return reply()
reply()
cmd("LHLO client.test")
for m in sys.argv[2:]:
    rcpts = m.split(",")
    cmd("MAIL FROM:<alice@sender.test>")
    for r in rcpts:
        cmd("RCPT TO:<%s>" % r)
    cmd("DATA")
    f.write(b"Subject: metrics\r\n\r\nhello\r\n.\r\n"); f.flush()
    for r in rcpts:
        print(r, reply())
cmd("QUIT")
EOF
lmtp() {
	python3 "$T_DIR/lmtp.py" "$SOCK" "$@" >>"$T_DIR/replies" 2>>"$T_DIR/lmtp.err"
}

# ok.test: three messages, four recipients; the wildcard: one message to
# 50 subdomains (50 domains, so 50 deliveries); refuse.test: one message,
# two recipients, both refused; down.test: deferred; srv.test (SRV): two
# messages; r1..r10: one each.
WILD=""
for i in $(seq 1 50); do WILD="$WILD${WILD:+,}u@host$i.wild.test"; done
lmtp "a@ok.test" "b@ok.test,c@ok.test" "d@ok.test"
lmtp "$WILD"
lmtp "x@refuse.test,y@refuse.test" "z@down.test"
lmtp "s@srv.test" "t@srv.test"
for i in 1 2 3 4 5 6 7 8 9 10; do lmtp "u@r$i.test"; done
t_eq "$(grep -c ' 250 ' "$T_DIR/replies")" 66 "66 recipients delivered (4 + 50 + 2 + 10)"
t_eq "$(grep -c ' 550 ' "$T_DIR/replies")" 2 "2 refused for good"
t_eq "$(grep -c ' 451 ' "$T_DIR/replies")" 1 "1 deferred (the server is down)"

# value METRIC{LABELS} - the sample's value in the textfile, or "none"
value() {
	v=$(awk -v k="$1" '$1 == k {print $2}' "$PROM")
	echo "${v:-none}"
}
# the textfile has caught up when the last deliveries are in it
caught_up() {
	[ "$(value 'mxport_route_messages_total{route="_other",result="delivered"}')" = 7 ]
}
wait_for "the textfile with every delivery" caught_up

promtool check metrics <"$PROM" >"$T_DIR/promtool.out" 2>&1
t_ok $? "promtool check metrics: the textfile passes"
sed 's/^/#   /' "$T_DIR/promtool.out"

t_eq "$(value 'mxport_route_messages_total{route="ok.test",result="delivered"}')" 3 \
	"ok.test: 3 messages delivered"
t_eq "$(value 'mxport_route_recipients_total{route="ok.test",result="delivered"}')" 4 \
	"ok.test: 4 recipients delivered"
t_eq "$(value 'mxport_route_messages_total{route=".wild.test",result="delivered"}')" 50 \
	"the wildcard route: 50 deliveries under .wild.test"
t_eq "$(grep -c 'wild.test' "$PROM")" "$(grep -c 'route="ok.test"' "$PROM")" \
	"the wildcard route has as many series as one plain route"
t_nogrep "$PROM" 'host[0-9]+\.wild\.test' "no series is named after a recipient's subdomain"
t_eq "$(value 'mxport_route_messages_total{route="refuse.test",result="bounced"}')" 1 \
	"refuse.test: 1 message bounced"
t_eq "$(value 'mxport_route_recipients_total{route="refuse.test",result="bounced"}')" 2 \
	"refuse.test: 2 recipients bounced"
t_eq "$(value 'mxport_route_messages_total{route="down.test",result="deferred"}')" 1 \
	"down.test: 1 message deferred"
t_eq "$(value 'mxport_route_up{route="down.test"}')" 0 "down.test is down"
t_eq "$(value 'mxport_route_up{route="ok.test"}')" 1 "ok.test is up"
t_eq "$(value 'mxport_route_up{route="refuse.test"}')" 1 "refuse.test answers (it refuses): up"
t_grep "$PROM" '^mxport_route_last_failure_timestamp_seconds\{route="down.test"\} [0-9]{10}$' \
	"down.test: the time of its last failure"
t_grep "$PROM" '^mxport_route_up_changed_timestamp_seconds\{route="down.test"\} [0-9]{10}$' \
	"down.test: down since when"
t_nogrep "$PROM" 'last_success_timestamp_seconds\{route="down.test"' "down.test: no success yet"
t_eq "$(value 'mxport_route_delivery_duration_seconds_count{route="ok.test"}')" 3 \
	"ok.test: 3 deliveries in the latency histogram"
t_eq "$(value 'mxport_route_delivery_duration_seconds_bucket{route="ok.test",le="+Inf"}')" 3 \
	"the +Inf bucket holds them all"

t_eq "$(value 'mxport_route_messages_total{route="srv.test",result="delivered"}')" 2 \
	"srv.test: counted under the SRV domain"

# bounded: 8 routes of their own, the other 7 of r1..r10 under _other
t_eq "$(value 'mxport_metrics_routes')" 8 "the table is full at metrics_max_routes (8)"
t_eq "$(grep '^mxport_route_messages_total{' "$PROM" | sed 's/.*route="\([^"]*\)".*/\1/' | sort -u | wc -l)" 9 \
	"9 route labels: 8 and _other"
t_eq "$(value 'mxport_route_recipients_total{route="_other",result="delivered"}')" 7 \
	"the 7 routes past the table count under _other"
t_nogrep "$PROM" '^mxport_route_up\{route="_other"\}' "_other (many servers) has no up/down state"

# the counters agree with what the accepting sink received
delivered=0
for v in $(grep -E '^mxport_route_messages_total\{route="[^"]*",result="delivered"\}' "$PROM" |
	grep -v 'route="refuse.test"' | awk '{print $2}'); do
	delivered=$((delivered + v))
done
t_eq "$delivered" "$(count_msgs "$OK_DIR")" "messages delivered = messages the sink received"
t_eq "$(cat "$OK_DIR"/env.* | grep -c '^RCPT TO:')" 66 "the sink took 66 recipients"
t_eq "$(count_msgs "$REFUSE_DIR")" 0 "the refusing sink received no message"
t_eq "$(value 'mxport_config_last_reload_successful{daemon="transport"}')" 1 \
	"the transport's configuration loaded"
t_grep "$PROM" '^mxport_config_loaded_timestamp_seconds\{daemon="transport"\} [0-9]{10}$' \
	"the configuration in force since when"

# mxport-route --metrics reads the same table, as another user too
"$ROUTE" -c "$CONF" --metrics >"$T_DIR/route.prom" 2>"$T_DIR/route.err"
t_ok $? "mxport-route --metrics"
promtool check metrics <"$T_DIR/route.prom" >/dev/null 2>&1
t_ok $? "promtool check metrics: mxport-route --metrics passes"
t_grep "$T_DIR/route.prom" '^mxport_route_messages_total\{route="ok.test",result="delivered"\} 3$' \
	"mxport-route --metrics: the same counters"

# pipe mode adds to the same table
printf 'Subject: pipe\r\n\r\nhello\r\n' >"$T_DIR/msg"
run_transport P1 alice@sender.test "$T_DIR/msg" e@ok.test
t_eq "$RC" 0 "pipe mode: delivered"
as_user "$ROUTE" -c "$CONF" --metrics="$T_DIR/prom/pipe.prom" 2>"$T_DIR/route.err"
t_ok $? "mxport-route --metrics=FILE writes the textfile"
t_grep "$T_DIR/prom/pipe.prom" '^mxport_route_messages_total\{route="ok.test",result="delivered"\} 4$' \
	"pipe mode counted in the shared table"

# a metrics_file that cannot be made: the mail goes on, one line in the log
write_conf "$T_DIR/broken.conf" "routes_file = $T_DIR/routes" "allowed_networks = 127.0.0.0/8" \
	"dns_servers = 127.0.0.1:9" "tls_mode = none" "metrics_file = $T_DIR/no/such/dir/metrics"
CONF="$T_DIR/broken.conf"
before=$(count_msgs "$OK_DIR")
run_transport P2 alice@sender.test "$T_DIR/msg" f@ok.test
t_eq "$RC" 0 "metrics_file cannot be made: the mail is delivered all the same"
t_eq "$(count_msgs "$OK_DIR")" $((before + 1)) "the sink received it"
t_grep "$LOG" 'metrics: .*no/such/dir/metrics.*mail goes on' "the trouble is logged"
# a link where the table should be is not followed
ln -s "$T_DIR/elsewhere" "$STATE/link"
write_conf "$T_DIR/link.conf" "routes_file = $T_DIR/routes" "allowed_networks = 127.0.0.0/8" \
	"dns_servers = 127.0.0.1:9" "tls_mode = none" "metrics_file = $STATE/link"
CONF="$T_DIR/link.conf"
run_transport P3 alice@sender.test "$T_DIR/msg" g@ok.test
t_eq "$RC" 0 "metrics_file a symbolic link: delivered, the link not followed"
t_ok "$([ ! -e "$T_DIR/elsewhere" ]; echo $?)" "nothing made where the link points"

# the milter's callouts, under their routes' names, and its configuration loads
write_conf "$T_DIR/milter.conf" "routes_file = $T_DIR/routes" "allowed_networks = 127.0.0.0/8" \
	"dns_servers = 127.0.0.1:9" "tls_mode = none" "socket_group = nogroup" \
	"milter_socket = unix:$T_DIR/run/milter.sock" \
	"socketmap_socket = unix:$T_DIR/run/socketmap.sock" "verify_recipients = yes" \
	"metrics_file = $STATE/metrics" "metrics_max_routes = 8"
MILTER="$MXPORT_BUILDDIR/mxport-milter"
"$MILTER" -f -c "$T_DIR/milter.conf" -u nobody >>"$T_DIR/milter.stderr" 2>&1 &
MILTER_PID=$!
wait_for "mxport-milter socketmap" test -S "$T_DIR/run/socketmap.sock"
PROBE="$MXPORT_SRCDIR/tests/lib/sockprobe.py"
python3 "$PROBE" socketmap "$T_DIR/run/socketmap.sock" verify h@ok.test >"$T_DIR/v1" 2>&1
python3 "$PROBE" socketmap "$T_DIR/run/socketmap.sock" verify i@refuse.test >"$T_DIR/v2" 2>&1
python3 "$PROBE" socketmap "$T_DIR/run/socketmap.sock" verify j@down.test >"$T_DIR/v3" 2>&1
t_grep "$T_DIR/v2" '550' "verify: the refusing server's user is refused"
CONF="$T_DIR/mxport.conf"
callouts() {
	"$ROUTE" -c "$CONF" --metrics >"$T_DIR/callouts.prom" 2>&1 &&
		grep -q '^mxport_route_callouts_total{route="down.test",result="unverified"} 1$' \
			"$T_DIR/callouts.prom"
}
wait_for "the callouts counted" callouts
t_grep "$T_DIR/callouts.prom" '^mxport_route_callouts_total\{route="ok.test",result="accepted"\} 1$' \
	"callout accepted, under ok.test"
t_grep "$T_DIR/callouts.prom" '^mxport_route_callouts_total\{route="refuse.test",result="refused"\} 1$' \
	"callout refused, under refuse.test"
t_grep "$T_DIR/callouts.prom" '^mxport_config_last_reload_successful\{daemon="milter"\} 1$' \
	"the milter's configuration loaded"
# a reload that fails: the gauge says 0, with the time of the error
echo "no_such_key = 1" >>"$T_DIR/milter.conf"
kill -HUP "$MILTER_PID"
reload_failed() {
	"$ROUTE" -c "$CONF" --metrics >"$T_DIR/reload.prom" 2>&1 &&
		grep -q '^mxport_config_last_reload_successful{daemon="milter"} 0$' "$T_DIR/reload.prom"
}
wait_for "the failed reload counted" reload_failed
t_grep "$T_DIR/reload.prom" '^mxport_config_last_reload_error_timestamp_seconds\{daemon="milter"\} [0-9]{10}$' \
	"the failed reload's time"
promtool check metrics <"$T_DIR/reload.prom" >/dev/null 2>&1
t_ok $? "promtool check metrics: with the milter's numbers"
kill "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
MILTER_PID=

# metrics_max_routes changed under the running daemon: the next delivery
# makes the table anew (by rename: counting starts again), and the
# listener, which read mxport.conf at its start, reads the new table as it
# is rather than making it again with the old size
sed -i 's/^metrics_max_routes = 8$/metrics_max_routes = 20/' "$T_DIR/mxport.conf"
lmtp "k@ok.test"
remade() {
	[ "$(value 'mxport_metrics_routes_max')" = 20 ] &&
		[ "$(value 'mxport_route_messages_total{route="ok.test",result="delivered"}')" = 1 ]
}
wait_for "the table made anew" remade
for i in 1 2; do
	inode=$(stat -c %i "$PROM")
	wait_for "the listener's next write" sh -c "[ \"\$(stat -c %i '$PROM')\" != $inode ]"
done
t_eq "$(value 'mxport_metrics_routes_max')" 20 "the listener keeps the table the transport made anew"
t_eq "$(value 'mxport_route_messages_total{route="ok.test",result="delivered"}')" 1 \
	"its counters count from the change"

t_done
