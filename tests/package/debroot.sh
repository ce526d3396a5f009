# debroot.sh - what the package tests share (sourced by test_deb.sh and
# test_deb_exim.sh): TAP output, the .deb built from this tree with the
# README's commands, a fresh Debian 12 root made by debootstrap, a network
# namespace for its daemons, and the customer's server and the outside
# client in that namespace.
#
# The .deb and the bare root cost most of a package test's time (a build
# and a debootstrap). With MXPORT_PACKAGE_CACHE=DIR (tests/run-all.sh sets
# it for its package step) the first test keeps both there, the .deb and a
# tar of the root as debootstrap left it, and the next takes them: every
# test still starts from a fresh root, and one run of the suite builds one
# package. Without it each test builds and debootstraps for itself.
#
# The sourcing script sets nothing first; it gets src, work (a temporary
# folder, kept on failure or with MXPORT_KEEP=1), root ($work/root), ns
# (the network namespace's name) and the functions below, and calls
# deb_preflight, deb_build, deb_root and deb_netns in that order.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mxport-deb.XXXXXX)
chmod 755 "$work"
root=$work/root
ns=mxport-deb-$$
n=0
failed=0
peer_pid=
deb=
cache=${MXPORT_PACKAGE_CACHE:-}

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
# bail REASON - a step the rest depends on failed
bail() {
	echo "Bail out! $1"
	failed=$((failed + 1))
	exit 1
}
# show FILE [N] - its last N lines as TAP comments
show() {
	tail -n "${2:-25}" "$1" | sed 's/^/#   /'
}
# in_root CMD... - run in the fresh root, inside the test's network
# namespace. nsenter, not ip netns exec: that gives each command a mount
# namespace of its own, and start-stop-daemon would not recognise, by its
# /proc/PID/exe, a daemon started by another command.
in_root() {
	nsenter --net="/run/netns/$ns" chroot "$root" "$@"
}
# in_ns CMD... - run on this machine, inside the test's network namespace
in_ns() {
	nsenter --net="/run/netns/$ns" "$@"
}
# root_pids - processes running in the fresh root
root_pids() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
	done
}
# running - the command lines of the root's processes, into $work/running
running() {
	root_pids | while read -r p; do
		tr '\0' ' ' <"/proc/$p/cmdline"
		echo
	done >"$work/running"
}
# until_true TENTHS CMD... - run CMD every 0.2 s until it succeeds or
# TENTHS tenths of a second have passed; the status is CMD's last
until_true() {
	deadline=$(($(date +%s) + ($1 + 9) / 10))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
deb_cleanup() {
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	for p in $(root_pids); do kill "$p" 2>/dev/null; done
	i=0
	while [ -n "$(root_pids)" ] && [ $i -lt 10 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	for p in $(root_pids); do kill -9 "$p" 2>/dev/null; done
	for m in dev/pts dev proc; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	ip netns del "$ns" 2>/dev/null
	if [ "$failed" -eq 0 ] && [ -z "${MXPORT_KEEP:-}" ]; then
		rm -rf "$work"
	else
		echo "# test files kept in $work"
	fi
}
trap deb_cleanup EXIT
trap 'exit 1' INT TERM

# deb_preflight - root, and the packages tests/deps.txt marks "package"
deb_preflight() {
	[ "$(id -u)" -eq 0 ] || bail "run as root"
	missing=$(sh "$src/tests/install-deps.sh" --missing package)
	[ -z "$missing" ] || bail "missing packages: $missing (tests/install-deps.sh package)"
}

# deb_build - the .deb, in $deb: built from this tree with the README's
# commands (apt-get build-dep ./ ; dpkg-buildpackage -us -uc -b) and
# checked by lintian, or the one a test before this one built in the cache
deb_build() {
	version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
	arch=$(dpkg --print-architecture)
	name=mxport_${version}_$arch.deb
	if [ -n "$cache" ] && [ -f "$cache/$name" ]; then
		deb=$cache/$name
		ok 0 "$name from this run's package cache (built and checked by lintian there)"
		return 0
	fi
	mkdir -p "$work/build/mxport"
	if [ -d "$src/.git" ] || [ -f "$src/.git" ]; then
		(cd "$src" && git ls-files -co --exclude-standard) >"$work/files"
	else
		(cd "$src" && find . -path ./_build\* -prune -o -type f -print) >"$work/files"
	fi
	(cd "$src" && grep -v -e '^_build' -e '^_b/' -e '^debian/\.debhelper' "$work/files" | tar -cf - -T -) |
		(cd "$work/build/mxport" && tar -xf -) || bail "copy of the source tree"
	(
		cd "$work/build/mxport" &&
			DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./ &&
			dpkg-buildpackage -us -uc -b
	) >"$work/build.log" 2>&1
	ok $? "apt-get build-dep ./ && dpkg-buildpackage -us -uc -b"
	deb=$work/build/$name
	test -f "$deb"
	ok $? "built $name"
	[ -f "$deb" ] || { show "$work/build.log" 40; bail "no .deb"; }
	lintian "$work/build/mxport_${version}_$arch.changes" >"$work/lintian.out" 2>&1
	! grep -q '^E:' "$work/lintian.out"
	ok $? "lintian: no errors ($(grep -c '^W:' "$work/lintian.out") warnings)"
	sed 's/^/# lintian: /' "$work/lintian.out"
	if [ -n "$cache" ] && [ "$failed" -eq 0 ]; then
		mkdir -p "$cache" && cp "$deb" "$cache/$name.tmp" && mv "$cache/$name.tmp" "$cache/$name"
	fi
}

# deb_root - a fresh Debian 12 root in $root (minbase, from the mirror this
# machine's apt uses, or MXPORT_DEBIAN_MIRROR), with /proc, /dev and this
# machine's resolv.conf (for apt); debootstrap's tree comes from the cache
# when a test before this one made it
deb_root() {
	mirror=${MXPORT_DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^deb / && $3 == "bookworm" { print $2; exit }
		/^URIs:/ { uri = $2 }
		/^Suites:/ && uri != "" && / bookworm( |$)/ { print uri; exit }')}
	mirror=${mirror:-http://deb.debian.org/debian}
	start=$(date +%s)
	if [ -n "$cache" ] && [ -f "$cache/root.tar" ]; then
		mkdir "$root" && tar -C "$root" -xf "$cache/root.tar"
		ok $? "a fresh Debian 12 root: debootstrap's tree from this run's package cache ($(($(date +%s) - start)) s)"
	else
		debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1
		ok $? "debootstrap --variant=minbase bookworm from $mirror ($(($(date +%s) - start)) s)"
		if [ -n "$cache" ] && [ -x "$root/usr/bin/apt-get" ]; then
			mkdir -p "$cache" && tar -C "$root" -cf "$cache/root.tar.tmp" . &&
				mv "$cache/root.tar.tmp" "$cache/root.tar"
		fi
	fi
	chmod 755 "$root"
	[ -x "$root/usr/bin/apt-get" ] || { show "$work/debootstrap.log"; bail "no root"; }
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	mount --bind /dev/pts "$root/dev/pts"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	cp "$deb" "$root/tmp/"
	debname=/tmp/$(basename "$deb")
}

# deb_netns - the network namespace the root's daemons run in: port 25 and
# the test addresses (client 198.51.100.7, relay 192.0.2.25 on its lo) are
# the test's only
deb_netns() {
	ip netns add "$ns" || bail "ip netns add $ns"
	in_ns sh -c 'ip link set lo up &&
		ip addr add 198.51.100.7/32 dev lo && ip addr add 192.0.2.25/32 dev lo' ||
		bail "addresses in the network namespace"
}

# start_customer DIR [PORT] - the customer's server (tests/lib/smtppeer.py)
# on 127.0.0.1 in the namespace, recording into DIR; sets peer_pid, port
start_customer() {
	mkdir -p "$1"
	rm -f "$1/port"
	echo "{\"port\": ${2:-0}}" >"$1/script.json"
	# nsenter itself, not in_ns: $! is then the server's pid (nsenter execs
	# it), not a subshell's whose kill would leave the server running
	nsenter --net="/run/netns/$ns" python3 "$src/tests/lib/smtppeer.py" "$1/script.json" "$1" 2>>"$1/stderr" &
	peer_pid=$!
	until_true 100 test -s "$1/port"
	port=$(cat "$1/port" 2>/dev/null)
	[ -n "$port" ] || bail "the customer's server (smtppeer) did not start"
}

# send RCPT - one message from outside the relay's networks (198.51.100.7)
# to the relay's port 25 (tests/lib/sendmsg.py: its replies on stdout)
send() {
	in_ns env SENDMSG_SOURCE=198.51.100.7 python3 "$src/tests/lib/sendmsg.py" \
		192.0.2.25 25 alice@sender.example "$1"
}

# port25 - the relay answers on 192.0.2.25:25
port25() {
	in_ns python3 -c 'import socket; socket.create_connection(("192.0.2.25", 25), 1).close()' 2>/dev/null
}
