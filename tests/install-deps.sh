#!/bin/sh
# install-deps.sh - install the Debian packages that tests/deps.txt lists.
# Usage: tests/install-deps.sh [TAG...]            install the missing ones (as
#                                                  root: apt-get update, apt-get
#                                                  install -y)
#        tests/install-deps.sh --missing [TAG...]  print the missing ones
#        tests/install-deps.sh --list [TAG...]     print the list
# TAG: build, autotools, suite, package (see tests/deps.txt); default: all.
# Building by hand from git needs: tests/install-deps.sh build autotools
# Postfix is preseeded with "No configuration": /etc/postfix stays alone
# (the tests run private instances) and the system Postfix does not start.
set -eu
deps="$(cd "$(dirname "$0")" && pwd)/deps.txt"

list() {
	sed -e 's/#.*//' "$deps" | awk -v want=" $tags " 'NF >= 2 && index(want, " " $2 " ") { print $1 }'
}

missing() {
	for p in $(list); do
		s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		case "$s" in
		ii*) ;;
		*) echo "$p" ;;
		esac
	done
}

mode=install
case "${1:-}" in
--list | --missing)
	mode=${1#--}
	shift
	;;
-*)
	echo "usage: tests/install-deps.sh [--missing | --list] [build|autotools|suite|package ...]" >&2
	exit 64
	;;
esac
tags=${*:-build autotools suite package}
case "$mode" in
list)
	list
	exit 0
	;;
missing)
	missing
	exit 0
	;;
esac

need=$(missing)
if [ -z "$need" ]; then
	echo "install-deps: every package of $deps ($tags) is installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:" $need >&2
	echo "install-deps: run as root: tests/install-deps.sh $tags (or apt-get install" $need")" >&2
	exit 1
fi
echo "install-deps: installing" $need
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
# shellcheck disable=SC2086 # one word a package
apt-get install -y -q --no-install-recommends $need >/dev/null
left=$(missing)
if [ -n "$left" ]; then
	echo "install-deps: still missing after apt-get install:" $left >&2
	exit 1
fi
