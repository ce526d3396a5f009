#!/bin/sh
# test_deps.sh - one list of Debian packages (tests/deps.txt), no copies:
#   - debian/control's Build-Depends are exactly the packages tests/deps.txt
#     marks "build" (besides debhelper-compat);
#   - .ci/run runs exactly the README's test command (quick start, command 2);
#   - no script but tests/install-deps.sh installs packages with apt-get.
# TAP; needs no server and no root.
set -u
src=${MXPORT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build-Depends: the field and its continuation lines, one name a line,
# without versions, architectures or build profiles.
awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
	on && /^[ \t]/ { print; next } { on = 0 }' "$src/debian/control" |
	tr ',' '\n' | sed -e 's/[[(<].*//' -e 's/|.*//' -e 's/[ \t]//g' |
	grep -v '^$' | grep -v '^debhelper-compat$' | sort >"$tmp/control"
sh "$src/tests/install-deps.sh" --list build | sort >"$tmp/deps"
diff -u "$tmp/deps" "$tmp/control" >"$tmp/diff"
ok $? "debian/control Build-Depends = the 'build' packages of tests/deps.txt"
sed 's/^/# /' "$tmp/diff"
[ -s "$tmp/control" ]
ok $? "debian/control has Build-Depends ($(wc -l <"$tmp/control") packages)"

# Every name in deps.txt is a plain Debian package name with a known tag.
sed -e 's/#.*//' "$src/tests/deps.txt" | awk 'NF' >"$tmp/lines"
bad=$(awk 'NF != 2 || $2 !~ /^(build|autotools|suite|package)$/ || $1 !~ /^[a-z0-9][a-z0-9.+-]+$/' "$tmp/lines")
[ -z "$bad" ]
ok $? "every line of tests/deps.txt is 'package build|autotools|suite|package'"
[ -n "$bad" ] && echo "# bad lines: $bad"
dups=$(awk '{ print $1 }' "$tmp/lines" | sort | uniq -d)
[ -z "$dups" ]
ok $? "no package twice in tests/deps.txt"

# The README's command 2: the first command line after the "# 2." comment
# in the quick start; .ci/run's last line runs the same (exec is allowed).
readme_cmd=$(awk '/^# 2\./ { on = 1; next } on && /^[^#]/ && NF { print; exit }' "$src/README.md")
ci_cmd=$(grep -v '^[[:space:]]*#' "$src/.ci/run" | grep -v '^[[:space:]]*$' | tail -1 | sed 's/^exec //')
[ -n "$readme_cmd" ] && [ "$readme_cmd" = "$ci_cmd" ]
ok $? ".ci/run runs the README's test command ('$readme_cmd' = '$ci_cmd')"

# The three former copies: .ci/run, the demo and run-all.sh install nothing
# by themselves.
grep -n 'apt-get install' "$src/.ci/run" "$src/contrib/demo.sh" "$src/tests/run-all.sh" >"$tmp/apt"
[ ! -s "$tmp/apt" ]
ok $? "only tests/install-deps.sh runs apt-get install"
sed 's/^/# /' "$tmp/apt"

echo "1..$n"
[ "$failed" -eq 0 ]
