#!/bin/sh
# test_dns_spoof - forged DNS answers must never make a domain forwarded:
# answers from another address or port, with another ID, for another
# question, without QR, a flood of them; records of other owners; CNAME
# chains (followed, but loops and long chains are temporary failures); a
# forged AD bit from a server not marked trusted; TC then TCP. The hostile
# responder is tests/lib/dnsstub.py in mode "hostile": each forgery points
# the domain at evil.attack.test (127.0.0.66); the true answer is NXDOMAIN.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"

ROUTE="$MXPORT_BUILDDIR/mxport-route"
start_dnsstub hostile
QLOG="$T_DIR/stub.hostile.port.log"

conf() {
	cat >"$T_DIR/$1.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$STUB_PORT
dns_timeout = 3s
allowed_networks = 127.0.0.0/8
$2
CONF
}
conf plain ""
conf trusted "dns_trust_ad = yes"

# route CONF DOMAIN - run mxport-route; output in $T_DIR/out, status in $RC
route() {
	"$ROUTE" -c "$T_DIR/$1.conf" "$2" >"$T_DIR/out" 2>&1
	RC=$?
}

# not_forged WHAT - the last run did not use the forged target
not_forged() {
	t_nogrep "$T_DIR/out" "evil|127\.0\.0\.66|port 25\$" "$1: forged target not used"
}

for s in wrongsrc wrongport wrongid wrongname wrongtype wrongclass notreply; do
	route plain "$s.test"
	t_eq "$RC" 1 "$s: forged answer ignored, the true answer (NXDOMAIN) believed: not forwarded"
	t_grep "$T_DIR/out" "NXDOMAIN" "$s: the true answer's NXDOMAIN reported"
	not_forged "$s"
done

start=$(now_ms)
route plain flood.test
elapsed=$(($(now_ms) - start))
t_eq "$RC" 1 "flood of 3000 forged answers to the query's port before the real one: not forwarded"
t_grep "$T_DIR/out" "NXDOMAIN" "flood: the true answer found behind the forgeries"
not_forged flood
if [ "$elapsed" -lt 3000 ]; then r=0; else r=1; fi
t_ok $r "flood: answered before dns_timeout (${elapsed} ms)"

conf short ""
sed -i 's/^dns_timeout = 3s/dns_timeout = 1s/' "$T_DIR/short.conf"
start=$(now_ms)
route short forgedonly.test
elapsed=$(($(now_ms) - start))
t_eq "$RC" 75 "only forged answers, the true one never comes: temporary failure (exit 75)"
t_grep "$T_DIR/out" "_smtp\._tcp\.forgedonly\.test/SRV: no answer from name server 127\.0\.0\.1 port $STUB_PORT in time \([0-9]+ reply\(ies\) ignored" "only forgeries: the reason names the name, the server and port, and the ignored replies"
not_forged forgedonly
if [ "$elapsed" -ge 900 ] && [ "$elapsed" -le 2000 ]; then r=0; else r=1; fi
t_ok $r "only forgeries: waited for the true answer until dns_timeout (1s): ${elapsed} ms"

route plain owner.test
t_eq "$RC" 1 "SRV records owned by other names (and one in the authority section): not forwarded"
t_grep "$T_DIR/out" "no SRV record" "owner: reported as no SRV record"
not_forged owner

route plain aowner.test
t_eq "$RC" 75 "A answer with a record owned by another name: target has no address (exit 75)"
t_grep "$T_DIR/out" "host has no address" "A owner: the target has no address"
t_nogrep "$T_DIR/out" "127\.0\.0\.66" "A owner: the other name's address not used"

route plain cname.test
t_eq "$RC" 0 "CNAME to a name with SRV records: followed, forwarded"
t_grep "$T_DIR/out" "mail\.cname\.test port 2525" "CNAME: the target's SRV record used"

route plain cnameother.test
t_eq "$RC" 1 "CNAME whose target has no SRV, other owners' SRV in the answer: not forwarded"
not_forged cnameother

route plain cnameloop.test
t_eq "$RC" 75 "CNAME loop: temporary failure (exit 75)"
t_grep "$T_DIR/out" "CNAME loop" "CNAME loop: named"
not_forged cnameloop

route plain cnamelong.test
t_eq "$RC" 75 "chain of 12 CNAMEs: temporary failure (exit 75)"
t_grep "$T_DIR/out" "CNAME chain longer than 8" "long CNAME chain: named"
not_forged cnamelong

route plain upper.test
t_eq "$RC" 0 "question repeated in another case: accepted (DNS names ignore case)"
t_grep "$T_DIR/out" "mail\.upper\.test port 2525" "upper case question: the answer's SRV used"

route plain forgedad.test
t_eq "$RC" 0 "answer with AD from a server not marked trusted: forwarded"
t_grep "$T_DIR/out" "source: DNS SRV _smtp\._tcp\.forgedad\.test \(not DNSSEC secure" "AD from an untrusted server: not shown as DNSSEC secure"
t_nogrep "$T_DIR/out" "addresses are DNSSEC secure" "AD from an untrusted server: addresses not secure either"
route trusted forgedad.test
t_grep "$T_DIR/out" "source: DNS SRV _smtp\._tcp\.forgedad\.test \(DNSSEC secure" "same server on loopback with dns_trust_ad = yes: AD believed"

route plain tc.test
t_eq "$RC" 0 "TC set over UDP: asked again over TCP, forwarded"
t_grep "$T_DIR/out" "mail\.tc\.test port 2525" "TC: the TCP answer's SRV used"
not_forged "TC (the truncated UDP answer carried a forged record)"
t_grep "$QLOG" "^[0-9]+ tcp _smtp\._tcp\.tc\.test 33\$" "TC: the question was asked over TCP"

# The milter's socketmap, which Postfix's relay check asks: the same forgeries
# must not open the relay for a domain.
MP=$(free_port)
SP=$(free_port)
cat >"$T_DIR/milter.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$STUB_PORT
dns_timeout = 3s
allowed_networks = 127.0.0.0/8
milter_socket = inet:$MP@127.0.0.1
socketmap_socket = inet:$SP@127.0.0.1
CONF
chmod 644 "$T_DIR/milter.conf"
"$MXPORT_BUILDDIR/mxport-milter" -f -c "$T_DIR/milter.conf" -u mxport >"$T_DIR/milter.stderr" 2>&1 &
T_PIDS="$T_PIDS $!"
wait_for "mxport-milter socketmap" python3 -c "import socket; socket.create_connection(('127.0.0.1', $SP), 1)"
# smap DOMAIN... - "relay DOMAIN" for each, one answer a line in $T_DIR/smap
smap() {
	python3 - "$SP" "$@" >"$T_DIR/smap" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
for d in sys.argv[2:]:
    q = ("relay " + d).encode()
    s.sendall(b"%d:%s," % (len(q), q))
    n = b""
    while not n.endswith(b":"):
        n += f.read(1)
    body = f.read(int(n[:-1]))
    f.read(1)
    print(d, body.decode())
PYEOF
}
smap wrongsrc.test wrongid.test wrongname.test wrongtype.test notreply.test flood.test owner.test cnameother.test cnameloop.test cname.test
for d in wrongsrc wrongid wrongname wrongtype notreply flood owner cnameother; do
	t_grep "$T_DIR/smap" "^$d\.test NOTFOUND" "socketmap relay $d.test: NOTFOUND (relay stays closed)"
done
t_grep "$T_DIR/smap" "^cnameloop\.test TEMP" "socketmap relay cnameloop.test: TEMP (Postfix defers)"
t_grep "$T_DIR/smap" "^cname\.test OK" "socketmap relay cname.test: OK (a real CNAME chain still works)"

# The transport's MX route for a domain that is not forwarded: an MX record
# owned by another name is not the domain's MX; with none, the domain's own
# address is used (RFC 5321 5.1).
need setpriv
start_peer mx '{}'
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"
cat >"$T_DIR/xport.conf" <<CONF
dns_routes = yes
dns_servers = 127.0.0.1:$STUB_PORT
dns_timeout = 3s
allowed_networks = 127.0.0.0/8
mx_port = $PEER_PORT
log_file = $LOG
connect_timeout = 2s
CONF
chmod 644 "$T_DIR/xport.conf"
printf 'Subject: mx owner\r\n\r\nhello\r\n' >"$T_DIR/msg"
as_user "$MXPORT_BUILDDIR/mxport-transport" -c "$T_DIR/xport.conf" -q MXQ -f a@sender.test -- bob@mxowner.test \
	<"$T_DIR/msg" >"$T_DIR/xout" 2>&1
t_eq "$?" 0 "MX record owned by another name: ignored, delivered to the domain's own address"
t_grep "$LOG" "to=<bob@mxowner\.test>, relay=mxowner\.test\[127\.0\.0\.1\]:$PEER_PORT, .*status=sent" "MX owner: relay is the domain itself"
t_nogrep "$LOG" "evil|127\.0\.0\.66" "MX owner: the forged exchange never tried"

# Every UDP query has its own ID and source port.
grep -v ' tcp ' "$QLOG" >"$T_DIR/udp.log"
n=$(wc -l <"$T_DIR/udp.log")
ids=$(cut -d' ' -f1 "$T_DIR/udp.log" | sort -u | wc -l)
ports=$(cut -d' ' -f2 "$T_DIR/udp.log" | sort -u | wc -l)
if [ "$n" -ge 25 ] && [ "$ids" -ge $((n - 2)) ]; then r=0; else r=1; fi
t_ok $r "query IDs differ from query to query ($ids distinct of $n)"
if [ "$n" -ge 25 ] && [ "$ports" -ge $((n - 2)) ]; then r=0; else r=1; fi
t_ok $r "source ports differ from query to query ($ports distinct of $n)"

t_done
