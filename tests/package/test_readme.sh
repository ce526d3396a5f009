#!/bin/sh
# test_readme.sh - the README's quick start on a fresh Debian 12: debootstraps
# a root (minbase, from the mirror this machine's apt uses), installs only
# gcc, clang, make, git, python3 and openssl in it, copies this tree there
# and runs, as root in the chroot,
#   command 1: sh contrib/demo.sh           must exit 0 and show the message
#   command 2: tests/run-all.sh             must end "N passed, 0 failed"
# Prints TAP. Needs root and debootstrap. Not a step of run-all.sh (command 2
# is the whole suite again).
# Usage: tests/package/test_readme.sh [--quick]
#   --quick  command 2 as tests/run-all.sh --quick (the normal build's tests)
# MXPORT_KEEP=1 keeps the root; MXPORT_DEBIAN_MIRROR overrides the mirror.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mxport-readme.XXXXXX)
chmod 755 "$work"
root=$work/root
n=0
failed=0
quick=
[ "${1:-}" = --quick ] && quick=--quick

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
bail() {
	echo "Bail out! $1"
	failed=$((failed + 1))
	exit 1
}
root_pids() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
	done
}
cleanup() {
	for p in $(root_pids); do kill "$p" 2>/dev/null; done
	sleep 1
	for p in $(root_pids); do kill -9 "$p" 2>/dev/null; done
	# every mount under the root, deepest first (command 2's package test
	# mounts its own root's /proc and /dev, and ip netns /run/netns)
	awk -v r="$root/" 'index($2, r) == 1 || $2 == substr(r, 1, length(r) - 1) { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount -l "$m"; done
	if [ "$failed" -eq 0 ] && [ -z "${MXPORT_KEEP:-}" ]; then
		rm -rf "$work"
	else
		echo "# test files kept in $work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || bail "run as root"
command -v debootstrap >/dev/null || bail "debootstrap not found (tests/install-deps.sh package)"

mirror=${MXPORT_DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
	/^deb / && $3 == "bookworm" { print $2; exit }
	/^URIs:/ { uri = $2 }
	/^Suites:/ && uri != "" && / bookworm( |$)/ { print uri; exit }')}
mirror=${mirror:-http://deb.debian.org/debian}
start=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1
ok $? "debootstrap --variant=minbase bookworm ($(($(date +%s) - start)) s)"
[ -x "$root/usr/bin/apt-get" ] || bail "no root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
# a policy-rc.d as in a container: packages do not start their services
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	gcc clang make git python3 openssl' >"$work/base.log" 2>&1
ok $? "the fresh machine: gcc clang make git python3 openssl, nothing else"

mkdir -p "$root/root/mxport"
if [ -e "$src/.git" ]; then
	(cd "$src" && git ls-files -co --exclude-standard) >"$work/files"
else
	(cd "$src" && find . -path ./_build\* -prune -o -type f -print) >"$work/files"
fi
(cd "$src" && grep -v '^_build' "$work/files" | tar -cf - -T -) | (cd "$root/root/mxport" && tar -xf -)

start=$(date +%s)
chroot "$root" sh -c 'cd /root/mxport && sh contrib/demo.sh' >"$work/command1.out" 2>&1
rc=$?
ok $rc "command 1: sh contrib/demo.sh exits 0 ($rc, $(($(date +%s) - start)) s)"
grep -q 'Hello from the test' "$work/command1.out"
ok $? "command 1 shows the message as the customer's server received it"
[ $rc -eq 0 ] || tail -30 "$work/command1.out" | sed 's/^/#   /'

start=$(date +%s)
chroot "$root" sh -c "cd /root/mxport && tests/run-all.sh $quick" >"$work/command2.out" 2>&1
rc=$?
ok $rc "command 2: tests/run-all.sh $quick exits 0 ($rc, $(($(date +%s) - start)) s)"
summary=$(tail -1 "$work/command2.out")
echo "#   $summary"
echo "$summary" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'
ok $? "command 2 ends 'N passed, 0 failed'"
[ $rc -eq 0 ] || grep -E '^(FAIL|ERROR|not ok|run-all|fuzz|package)' "$work/command2.out" | head -30 | sed 's/^/#   /'

echo "1..$n"
[ "$failed" -eq 0 ]
