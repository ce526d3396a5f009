# harness.sh - shared shell functions for tests that run real servers on loopback.
# Sourced by the test scripts; prints TAP. Every server listens on 127.0.0.1
# only and is stopped when the test exits.

: "${MXPORT_BUILDDIR:?run through make check}"
: "${MXPORT_SRCDIR:?run through make check}"

T_DIR=$(mktemp -d /tmp/mxport-test.XXXXXX)
chmod 755 "$T_DIR"
T_PIDS=""
T_NUM=0
T_FAILED=0

t_cleanup() {
	[ -n "${T_STOP:-}" ] && sh -c "$T_STOP" >/dev/null 2>&1
	for pid in $T_PIDS ${MILTER_PID:-}; do
		kill "$pid" 2>/dev/null
	done
	for pid in $T_PIDS; do
		wait "$pid" 2>/dev/null
	done
	if [ "$T_FAILED" -eq 0 ] && [ -z "${MXPORT_KEEP:-}" ]; then
		rm -rf "$T_DIR"
	else
		echo "# test files kept in $T_DIR"
	fi
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

# need CMD... - a test that lacks a tool fails loudly, never skips silently
need() {
	for cmd in "$@"; do
		if ! command -v "$cmd" >/dev/null 2>&1; then
			echo "Bail out! $cmd not found: install it (see .ci/run)"
			exit 99
		fi
	done
}

# ok COND DESC - TAP line for a shell condition already evaluated ($?)
t_ok() {
	T_NUM=$((T_NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

# t_grep FILE PATTERN DESC - FILE holds a line matching the extended regex
t_grep() {
	if grep -Eq -- "$2" "$1"; then
		t_ok 0 "$3"
	else
		t_ok 1 "$3"
		echo "# no line matching /$2/ in $1:"
		sed 's/^/#   /' "$1"
	fi
}

# t_nogrep FILE PATTERN DESC - FILE holds no line matching
t_nogrep() {
	if grep -Eq -- "$2" "$1"; then
		t_ok 1 "$3"
		echo "# unexpected line matching /$2/ in $1:"
		grep -E -- "$2" "$1" | sed 's/^/#   /'
	else
		t_ok 0 "$3"
	fi
}

# t_eq GOT WANT DESC
t_eq() {
	if [ "$1" = "$2" ]; then
		t_ok 0 "$3"
	else
		t_ok 1 "$3"
		echo "#   got: $1"
		echo "#  want: $2"
	fi
}

t_done() {
	echo "1..$T_NUM"
	[ "$T_FAILED" -eq 0 ]
}

# free_port - a TCP/UDP port on 127.0.0.1 that nothing listens on now.
# Chosen below the kernel's ephemeral range (32768-60999), where a client
# socket of any test could take it between this check and the server's bind,
# and never the same one twice in a test (two servers asked for in a row
# would otherwise get the same free port).
free_port() {
	python3 - "$T_DIR/ports.given" <<'PYEOF'
import random, socket, sys
given = set()
try:
    given = set(open(sys.argv[1]).read().split())
except OSError:
    pass
for _ in range(1000):
    p = random.randint(20000, 32000)
    if str(p) in given:
        continue
    s = socket.socket(); u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", p)); u.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close(); u.close()
    open(sys.argv[1], "a").write("%d\n" % p)
    print(p)
    break
else:
    sys.exit("free_port: no free port")
PYEOF
}

# wait_for DESC CMD... - retry CMD until it succeeds, for up to
# MXPORT_WAIT_SECONDS (60): a deadline in seconds, not in tries, so that a
# loaded machine where each try is slow still gets the whole time.
wait_for() {
	desc=$1
	shift
	deadline=$(($(date +%s) + ${MXPORT_WAIT_SECONDS:-60}))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "Bail out! $desc did not come up within ${MXPORT_WAIT_SECONDS:-60}s"
			T_FAILED=$((T_FAILED + 1))
			exit 99
		fi
		sleep 0.1
	done
}

# start_nsd ZONEFILE ORIGIN - NSD serving one zone on a free port; sets NSD_PORT
start_nsd() {
	need nsd drill
	NSD_PORT=$(free_port)
	mkdir -p "$T_DIR/nsd"
	cp "$1" "$T_DIR/nsd/zone"
	cat >"$T_DIR/nsd/nsd.conf" <<NSDEOF
server:
	ip-address: 127.0.0.1@$NSD_PORT
	username: ""
	chroot: ""
	database: ""
	zonesdir: "$T_DIR/nsd"
	pidfile: "$T_DIR/nsd/nsd.pid"
	xfrdfile: "$T_DIR/nsd/xfrd.state"
	zonelistfile: "$T_DIR/nsd/zone.list"
	xfrdir: "$T_DIR/nsd"
	logfile: "$T_DIR/nsd/nsd.log"
	verbosity: 1
	server-count: 1
remote-control:
	control-enable: no
zone:
	name: "$2"
	zonefile: "$T_DIR/nsd/zone"
NSDEOF
	nsd -d -c "$T_DIR/nsd/nsd.conf" >>"$T_DIR/nsd/nsd.log" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "nsd on port $NSD_PORT" sh -c "drill -p $NSD_PORT @127.0.0.1 SOA $2 | grep -q 'rcode: NOERROR'"
}

# start_dnsstub MODE - the failure stub; sets STUB_PORT
start_dnsstub() {
	need python3
	rm -f "$T_DIR/stub.$1.port"
	python3 "$MXPORT_SRCDIR/tests/lib/dnsstub.py" "$1" "$T_DIR/stub.$1.port" &
	T_PIDS="$T_PIDS $!"
	wait_for "dnsstub $1" test -s "$T_DIR/stub.$1.port"
	STUB_PORT=$(cat "$T_DIR/stub.$1.port")
}

# now_ms - wall clock in milliseconds
now_ms() {
	date +%s%3N
}

# sign_zone ZONEFILE ORIGIN OUT - DNSSEC-sign a zone with fresh KSK and ZSK;
# leaves the KSK's DS record in OUT.ds
sign_zone() {
	need ldns-keygen ldns-signzone
	kdir="$T_DIR/keys"
	mkdir -p "$kdir"
	(cd "$kdir" && ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$2") &&
		zsk=$(ldns-keygen -a ECDSAP256SHA256 "$2") &&
		cp "$1" zone && ldns-signzone -f "$3" zone "$ksk" "$zsk" && cp "$ksk.ds" "$3.ds") ||
		{ echo "Bail out! signing $1 failed"; exit 99; }
}

# start_unbound TRUST_ANCHOR ZONE - a validating unbound on a free port that
# sends questions for ZONE to the NSD started before; sets UNBOUND_PORT
start_unbound() {
	need unbound
	UNBOUND_PORT=$(free_port)
	mkdir -p "$T_DIR/unbound"
	cp "$1" "$T_DIR/unbound/anchor.ds"
	cat >"$T_DIR/unbound/unbound.conf" <<UBEOF
server:
	interface: 127.0.0.1
	port: $UNBOUND_PORT
	do-ip6: no
	do-not-query-localhost: no
	username: ""
	chroot: ""
	directory: "$T_DIR/unbound"
	pidfile: "$T_DIR/unbound/unbound.pid"
	use-syslog: no
	logfile: "$T_DIR/unbound/unbound.log"
	verbosity: 1
	num-threads: 1
	module-config: "validator iterator"
	trust-anchor-file: "$T_DIR/unbound/anchor.ds"
	local-zone: "$2" nodefault
	qname-minimisation: no
	val-log-level: 2
remote-control:
	control-enable: no
stub-zone:
	name: "$2"
	stub-addr: 127.0.0.1@$NSD_PORT
UBEOF
	unbound -d -c "$T_DIR/unbound/unbound.conf" >>"$T_DIR/unbound/unbound.log" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "unbound on port $UNBOUND_PORT" sh -c "drill -p $UNBOUND_PORT @127.0.0.1 SOA $2 | grep -q 'rcode: NOERROR'"
}

# start_peer NAME JSON - the project's scripted SMTP peer; sets PEER_PORT and
# PEER_DIR (where it records sessions)
start_peer() {
	need python3
	PEER_DIR="$T_DIR/peer.$1"
	rm -rf "$PEER_DIR"
	mkdir -p "$PEER_DIR"
	printf '%s\n' "$2" >"$PEER_DIR/script.json"
	python3 "$MXPORT_SRCDIR/tests/lib/smtppeer.py" "$PEER_DIR/script.json" "$PEER_DIR" \
		2>>"$PEER_DIR/stderr" &
	T_PIDS="$T_PIDS $!"
	eval "PEER_PID_$1=$!"
	wait_for "smtp peer $1" test -s "$PEER_DIR/port"
	PEER_PORT=$(cat "$PEER_DIR/port")
}

# stop_peer NAME - stop one peer (its port is then closed)
stop_peer() {
	eval "pid=\$PEER_PID_$1"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# count_msgs DIR - messages a peer has received
count_msgs() {
	ls "$1" 2>/dev/null | grep -c '^msg\.'
}

# have_msgs DIR N - a peer has received at least N messages
have_msgs() {
	[ "$(count_msgs "$1")" -ge "$2" ]
}

# t_share FILE - a copy of FILE in the test's own folder, for a program run
# as another user (nobody, postfix, mxport): the clone may sit in a home
# that only its owner can enter (Debian's /root is mode 0700), and so may
# the build tree. Prints the copy's name; T_DIR is mode 755.
t_share() {
	mkdir -p "$T_DIR/share" && chmod 755 "$T_DIR/share" &&
		cp -p "$1" "$T_DIR/share/" && chmod a+rX "$T_DIR/share/${1##*/}" ||
		{ echo "Bail out! cannot copy $1 into $T_DIR/share"; exit 99; }
	echo "$T_DIR/share/${1##*/}"
}

# as_user CMD... - run unprivileged: the transport refuses root, as pipe(8)
# does. A program of the source or build tree runs from a copy (t_share).
as_user() {
	need setpriv
	cmd=$1
	shift
	case $cmd in
	"$MXPORT_SRCDIR"/* | "$MXPORT_BUILDDIR"/*) cmd=$(t_share "$cmd") ;;
	esac
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$cmd" "$@"
}

# make_certs - a test CA and server certificates in $T_DIR/certs:
#   ca.pem; good (IP 127.0.0.1, DNS mail.test, signed by the CA); wrongname
#   (IP 127.0.0.2 only); selfsigned; expired (signed by the CA, expired in 2020)
make_certs() {
	need openssl
	d="$T_DIR/certs"
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=mxport test CA" -keyout ca.key -out ca.pem \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign
		for name in good wrongname expired; do
			case $name in
			good) san="IP:127.0.0.1,DNS:mail.test" ;;
			wrongname) san="IP:127.0.0.2,DNS:other.test" ;;
			expired) san="IP:127.0.0.1,DNS:mail.test" ;;
			esac
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-subj "/CN=$name.test" -keyout $name.key -out $name.csr
			printf 'subjectAltName=%s\n' "$san" >$name.ext
			if [ $name = expired ]; then
				# openssl ca can back-date; x509 -req cannot.
				mkdir -p ca.db && : >ca.db/index && echo 01 >ca.db/serial
				cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca.db/index
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = anything
copy_extensions = none
[anything]
commonName = supplied
CNF
				openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key \
					-startdate 20200101000000Z -enddate 20200102000000Z \
					-extfile $name.ext -in $name.csr -out $name.pem
			else
				openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
					-days 2 -extfile $name.ext -out $name.pem
			fi
		done
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=selfsigned.test" -addext subjectAltName=IP:127.0.0.1 \
			-keyout selfsigned.key -out selfsigned.pem
		chmod 644 ./*.key
	) >"$T_DIR/certs.log" 2>&1 || { echo "Bail out! making test certificates failed"; cat "$T_DIR/certs.log"; exit 99; }
}
