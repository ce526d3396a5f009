#!/bin/sh
# run-all.sh - the whole test suite, as CI runs it:
#   1. a normal build (-Wall -Wextra -Werror) and `make check`
#   2. the same tests built with AddressSanitizer and UBSan, and the
#      transport's tests with --enable-static-deps
#   3. the libFuzzer targets built with clang, each run for a short time
#   4. the Debian package: built, installed in a fresh Debian 12 root
#      (debootstrap), mail through it, purged: with Postfix
#      (tests/package/test_deb.sh), then with Exim (test_deb_exim.sh);
#      beside step 3's fuzzers
# Ends with one line "N passed, N failed"; exits non-zero on any failure.
# First it installs the Debian packages of tests/deps.txt that are missing
# (tests/install-deps.sh: as root, apt-get; MXPORT_NO_APT=1 only checks) and
# runs autoreconf -fi, so that a fresh Debian 12 needs this one command.
# Usage: tests/run-all.sh [--quick]   (--quick: step 1 only)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
# The tests mostly wait (on Postfix's queue runs, timeouts, servers): twice
# as many at once as there are cores.
check_jobs=$((jobs * 2))
fuzz_seconds=${MXPORT_FUZZ_SECONDS:-20}
passed=0
failed=0

# count DIR - add the TAP results of one build's test-suite.log
count() {
	log="$1/test-suite.log"
	if [ ! -f "$log" ]; then
		echo "run-all: $log missing: the suite did not run"
		failed=$((failed + 1))
		return
	fi
	p=$(sed -n 's/^# PASS: *//p' "$log")
	f=$(sed -n 's/^# FAIL: *//p' "$log")
	e=$(sed -n 's/^# ERROR: *//p' "$log")
	x=$(sed -n 's/^# XPASS: *//p' "$log")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	grep -E '^(FAIL|ERROR|XPASS):' "$log" | sed "s|^|$1: |"
}

# build NAME CONFIGURE-ARGS... - configure in _build-NAME and make check
build_and_check() {
	name=$1
	shift
	dir="$top/_build-$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "=== $name: configure $*"
	if ! (cd "$dir" && "$top/configure" -q "$@" >configure.out 2>&1); then
		cat "$dir/configure.out"
		echo "run-all: $name: configure failed"
		failed=$((failed + 1))
		return
	fi
	echo "=== $name: make check"
	(cd "$dir" && make -j"$jobs" >make.out 2>&1) || {
		tail -40 "$dir/make.out"
		echo "run-all: $name: build failed"
		failed=$((failed + 1))
		return
	}
	if [ -n "${MXPORT_TESTS:-}" ]; then
		(cd "$dir" && make -j"$check_jobs" check TESTS="$MXPORT_TESTS" >check.out 2>&1)
	else
		(cd "$dir" && make -j"$check_jobs" check >check.out 2>&1)
	fi
	grep -E '^# (TOTAL|PASS|FAIL|ERROR)' "$dir/test-suite.log" | sed "s|^|$name |"
	count "$dir"
}

# The packages the build and the tests need (tests/deps.txt).
missing=$(sh "$top/tests/install-deps.sh" --missing)
if [ -n "$missing" ]; then
	if [ -n "${MXPORT_NO_APT:-}" ] || [ "$(id -u)" -ne 0 ]; then
		echo "run-all: missing Debian packages:" $missing
		echo "run-all: install them as root with tests/install-deps.sh"
		echo "0 passed, 1 failed"
		exit 1
	fi
	sh "$top/tests/install-deps.sh" || {
		echo "0 passed, 1 failed"
		exit 1
	}
fi

# fuzz_one DIR TARGET - one libFuzzer target on a copy of its seed corpus;
# its exit status goes to DIR/fuzz-TARGET.rc
fuzz_one() {
	work="$1/corpus-$2"
	mkdir -p "$work"
	cp "$top/tests/fuzz/corpus/$2"/* "$work/"
	# srv_answer runs ldns's packet parser: whole stacks there (ldns has no
	# frame pointers), so that the suppressions name functions precisely;
	# elsewhere the fast unwinder keeps the runs quick.
	unwind=1
	[ "$2" = srv_answer ] && unwind=0
	ASAN_OPTIONS=fast_unwind_on_malloc=$unwind \
		LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp" \
		"$1/tests/fuzz/fuzz_$2" -max_total_time="$fuzz_seconds" -timeout=10 \
		-rss_limit_mb=2048 "$work" >"$1/fuzz-$2.out" 2>&1
	echo $? >"$1/fuzz-$2.rc"
}

# package - the Debian package on a fresh Debian 12 root: with Postfix
# (about 2 minutes), then with Exim as the root's MTA (about 30 s more: the
# .deb and debootstrap's tree come from the first test, through the cache).
# Its summary goes to _build-package/summary, its counts to
# _build-package/counts ("PASSED FAILED").
package() {
	dir="$top/_build-package"
	pp=0
	pf=0
	for t in test_deb test_deb_exim; do
		MXPORT_PACKAGE_CACHE="$dir/cache" sh "$top/tests/package/$t.sh" >"$dir/$t.out" 2>&1
		rc=$?
		p=$(grep -c '^ok ' "$dir/$t.out")
		f=$(grep -c -e '^not ok ' -e '^Bail out!' "$dir/$t.out")
		{
			echo "=== package: tests/package/$t.sh"
			[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 && echo "package: $t.sh exited $rc"
			echo "package: $t.sh: $p passed, $f failed"
			grep -e '^not ok ' -e '^Bail out!' "$dir/$t.out" | sed "s/^/package: $t: /"
			[ "$f" -gt 0 ] && tail -40 "$dir/$t.out"
		} >>"$dir/summary"
		pp=$((pp + p))
		pf=$((pf + f))
	done
	# the cache: a .deb and a tar of a Debian root (200 MB)
	rm -rf "$dir/cache"
	echo "$pp $pf" >"$dir/counts"
}

# The builds below are VPATH builds, which need a source tree that is not configured.
[ -f "$top/config.status" ] && make -s distclean >/dev/null 2>&1
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "run-all: autoreconf failed"; exit 1; }

build_and_check plain
if [ "${1:-}" != "--quick" ]; then
	build_and_check asan --enable-sanitizers
	# --enable-static-deps changes how the transport is linked: build it and
	# run the transport's own tests against it, so that the option is never
	# a build nobody tried.
	MXPORT_TESTS="tests/transport/test_transport.sh tests/transport/test_dane.sh" \
		build_and_check static --enable-static-deps
	# The package's tests run beside the fuzzers: those take a fixed time
	# each, the package's mostly waits on dpkg, apt and its daemons.
	rm -rf "$top/_build-package"
	mkdir -p "$top/_build-package"
	package &
	package_pid=$!
	# Fuzzers: clang with libFuzzer; each target runs on a copy of its seed corpus.
	dir="$top/_build-fuzz"
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "=== fuzz: build with clang"
	if (cd "$dir" && "$top/configure" -q CC=clang --enable-fuzzers >configure.out 2>&1 &&
		make -j"$jobs" tests/fuzz/fuzz_routes_file tests/fuzz/fuzz_routes_index tests/fuzz/fuzz_srv_answer tests/fuzz/fuzz_smtp_reply tests/fuzz/fuzz_socketmap tests/fuzz/fuzz_message tests/fuzz/fuzz_address tests/fuzz/fuzz_smtp_cmd tests/fuzz/fuzz_session tests/fuzz/fuzz_loopfield tests/fuzz/fuzz_xforward tests/fuzz/fuzz_path tests/fuzz/fuzz_lmtp >make.out 2>&1); then
		targets="routes_file routes_index srv_answer smtp_reply socketmap message address smtp_cmd session loopfield xforward path lmtp"
		# As many targets at once as there are cores: each is CPU-bound.
		# (their own pids: a bare wait would wait for the package's tests too)
		running=
		for target in $targets; do
			fuzz_one "$dir" "$target" &
			running="$running $!"
			if [ "$(echo $running | wc -w)" -ge "$jobs" ]; then
				wait $running
				running=
			fi
		done
		[ -z "$running" ] || wait $running
		for target in $targets; do
			if [ "$(cat "$dir/fuzz-$target.rc")" = 0 ]; then
				echo "fuzz $target: ok ($(grep -c . "$dir/fuzz-$target.out") lines of output, ${fuzz_seconds}s)"
				passed=$((passed + 1))
			else
				tail -30 "$dir/fuzz-$target.out"
				echo "fuzz $target: FAILED"
				failed=$((failed + 1))
			fi
		done
	else
		tail -30 "$dir/configure.out" "$dir/make.out" 2>/dev/null
		echo "run-all: fuzz build failed"
		failed=$((failed + 1))
	fi
	wait "$package_pid"
	cat "$top/_build-package/summary" 2>/dev/null
	if read -r pp pf <"$top/_build-package/counts" 2>/dev/null; then
		passed=$((passed + pp))
		failed=$((failed + pf))
	else
		echo "run-all: package: no counts (the package tests did not finish)"
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
