#!/bin/sh
# mkinit.sh UNIT TEMPLATE - an init script from TEMPLATE with the command,
# pid file, check command and user of the systemd UNIT filled in (the
# arguments from Environment="ARGS=..." when ExecStart= says $ARGS).
set -eu
unit=$1
key() { sed -n "s/^$1=//p" "$unit" | head -1; }
start=$(key ExecStart)
daemon=${start%% *}
args=${start#"$daemon"}
args=${args# }
# ExecStart=... $ARGS: the arguments are the unit's Environment="ARGS=..."
# (which /etc/default/NAME may override, for the unit and the script alike)
if [ "$args" = '$ARGS' ]; then
	args=$(sed -n 's/^Environment="ARGS=\(.*\)"$/\1/p' "$unit" | head -1)
	[ -n "$args" ] || { echo "mkinit: $unit: ExecStart= uses \$ARGS, but no Environment=\"ARGS=...\"" >&2; exit 1; }
fi
check=$(key ExecStartPre)
pidfile=$(key PIDFile)
user=$(key User)
desc=$(key Description)
name=$(basename "$unit" .service)
name=${name#mxport.}
[ -n "$daemon" ] || { echo "mkinit: $unit: no ExecStart=" >&2; exit 1; }
[ -n "$pidfile" ] || pidfile=/run/mxport/$name.pid
[ -n "$user" ] || user=root
sed -e "s|@NAME@|$name|g" -e "s|@DAEMON@|$daemon|g" -e "s|@ARGS@|$args|g" \
	-e "s|@CHECK@|$check|g" -e "s|@PIDFILE@|$pidfile|g" -e "s|@USER@|$user|g" \
	-e "s|@DESC@|$desc|g" "$2"
