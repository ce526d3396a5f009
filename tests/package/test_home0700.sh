#!/bin/sh
# test_home0700 - the tests pass from a clone in a home directory that only
# its owner can enter (issue 17, item 9: Debian's /root is mode 0700, and
# tests that ran helpers of the tree as users nobody and postfix failed
# there with "Permission denied"). The source and build trees are copied
# into a mode-0700 folder; the tests that run programs of the tree as
# other users (the security tests' socket probe, the transport as nobody)
# run from there and must pass.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need tar setpriv

H="$T_DIR/home"
mkdir -m 0700 "$H" "$H/src" "$H/build"
# T_DIR itself is 755 (the tests' own folders are): the home is what is closed
(cd "$MXPORT_SRCDIR" && tar -cf - --exclude=./.git --exclude='./_build*' .) | (cd "$H/src" && tar -xf -) ||
	{ echo "Bail out! cannot copy the source tree"; exit 99; }
(cd "$MXPORT_BUILDDIR" && tar -cf - --exclude='./tests/*.log' --exclude='./tests/*.trs' .) | (cd "$H/build" && tar -xf -) ||
	{ echo "Bail out! cannot copy the build tree"; exit 99; }
chmod 0700 "$H"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -r "$H/src/tests/lib/sockprobe.py"
[ $? -ne 0 ]
t_ok $? "the copy's home is closed to other users (as Debian's /root is)"

for t in tests/security/test_sockets.sh tests/security/test_verify_attack.sh \
	tests/transport/test_lmtp_cache.sh; do
	MXPORT_SRCDIR="$H/src" MXPORT_BUILDDIR="$H/build" sh "$H/src/$t" >"$T_DIR/out.${t##*/}" 2>&1
	rc=$?
	t_eq "$rc" 0 "$t passes from a clone in a mode-0700 home"
	if [ "$rc" -ne 0 ]; then
		grep -E '^not ok|Bail out|Permission denied' "$T_DIR/out.${t##*/}" | head -20 | sed 's/^/#   /'
	fi
	t_nogrep "$T_DIR/out.${t##*/}" "$H/(src|build)/.*Permission denied|Permission denied.*$H/(src|build)" "... and no program of the tree was refused to another user"
done

t_done
