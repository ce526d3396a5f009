#!/bin/sh
# test_layers.sh - the folders are layers, and the build keeps them so.
#   1. Every quoted include in the source folders names a header of the
#      file's own folder or of a layer below it (lib < dns < smtp <
#      programs); programs never include each other.
#   2. The build refuses an include that reaches up: a file compiled with
#      a layer's include path (make layer-flags) cannot find the header of
#      a layer above it, and finds its own.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need "${CC:-cc}"
cc=${CC:-cc}
src=$MXPORT_SRCDIR

# allowed FOLDER - the folders whose headers FOLDER may include
allowed() {
	case $1 in
	lib) echo "lib" ;;
	dns) echo "lib dns" ;;
	smtp) echo "lib dns smtp" ;;
	*) echo "lib dns smtp $1" ;;
	esac
}

bad="$T_DIR/bad"
: >"$bad"
for folder in lib dns smtp transport milter route; do
	for file in "$src/$folder"/*.c "$src/$folder"/*.h; do
		[ -f "$file" ] || continue
		sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file" |
			while read -r header; do
				[ "$header" = config.h ] && continue
				found=""
				for layer in $(allowed "$folder"); do
					[ -f "$src/$layer/$header" ] && found=$layer
				done
				[ -n "$found" ] || echo "$folder/${file##*/} includes \"$header\"" >>"$bad"
			done
	done
done
[ ! -s "$bad" ]
t_ok $? "every include names its own folder or a layer below it"
sed 's/^/# /' "$bad"

# A header no folder holds would pass the scan above but not the build:
# the scan must see every folder of the source tree that holds C.
strays=$(cd "$src" && ls -d */ | tr -d / | while read -r d; do
	case $d in lib | dns | smtp | transport | milter | route | tests | bench | contrib | build-aux | autom4te.cache | _build*) ;;
	*) ls "$d"/*.c >/dev/null 2>&1 && echo "$d" ;;
	esac
done)
[ -z "$strays" ]
t_ok $? "no C outside the layer folders (found: ${strays:-none})"

# One status table: no C file of the programs or libraries but lib/status.[ch]
# writes an enhanced status code (RFC 3463: class.subject.detail) in a
# string; a code mxport makes is a row there, named by its call sites.
literals="$T_DIR/literals"
for folder in lib dns smtp transport milter route; do
	for file in "$src/$folder"/*.c "$src/$folder"/*.h; do
		[ -f "$file" ] || continue
		case $folder/${file##*/} in lib/status.[ch]) continue ;; esac
		# strings only: comments, and a line's part after //, are prose
		sed -e 's|/\*.*\*/||g' -e 's|^[[:space:]]*\*.*||' "$file" |
			grep -nE '"[^"]*[^0-9.][245]\.[0-9]{1,3}\.[0-9]{1,3}([^0-9.][^"]*)?"|"[245]\.[0-9]{1,3}\.[0-9]{1,3}([^0-9.][^"]*)?"' |
			sed "s|^|$folder/${file##*/}:|"
	done
done >"$literals"
[ ! -s "$literals" ]
t_ok $? "no enhanced status code written outside lib/status.c"
sed 's/^/# /' "$literals"

flags="$T_DIR/flags"
make -s -C "$MXPORT_BUILDDIR" layer-flags >"$flags" 2>&1
t_grep "$flags" '^lib ' "the build names each layer's include path"

# compiles LAYER HEADER - a file compiled as LAYER's code finds HEADER
compiles() {
	layer_flags=$(sed -n "s/^$1 //p" "$flags")
	printf '#include "config.h"\n#include "%s"\n' "$2" >"$T_DIR/probe.c"
	# shellcheck disable=SC2086 # the flags are words
	(cd "$MXPORT_BUILDDIR" && $cc $layer_flags -fsyntax-only "$T_DIR/probe.c") >"$T_DIR/probe.out" 2>&1
}

for case in "lib util.h route.h" "lib util.h smtp_session.h" "dns route.h smtp_conn.h" \
	"dns route.h lmtp.h" "smtp smtp_conn.h socketmap.h" "smtp smtp_conn.h outcome.h"; do
	set -- $case
	compiles "$1" "$2"
	t_ok $? "$1: its own header $2 compiles"
	if compiles "$1" "$3"; then
		t_ok 1 "$1: an include of $3 (a layer above) is refused by the build"
	else
		t_grep "$T_DIR/probe.out" "$3" "$1: an include of $3 (a layer above) is refused by the build"
	fi
done

echo "1..$T_NUM"
