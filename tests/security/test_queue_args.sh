#!/bin/sh
# test_queue_args - mxport-queue(8) passes the domains it finds in the
# queue to mxport-route after "--" (issue 18, suspected item): a domain is
# whatever a sender wrote after "@" (Postfix queues u@-n or u@--export for
# a local user's mail), and without "--" mxport-route read "-n" as its
# check mode and "--export" as an export. Here postqueue -j is a stand-in
# with such recipients, and the real mxport-route answers: the report must
# show each as not forwarded, and mxport-route must have been asked about
# the domain, not run in another mode.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3

mkdir -p "$T_DIR/bin"
cat >"$T_DIR/bin/postqueue" <<'PQ'
#!/bin/sh
printf '%s\n' '{"queue_name": "deferred", "queue_id": "A1", "arrival_time": 1, "message_size": 10, "recipients": [{"address": "u@-n", "delay_reason": "x"}, {"address": "v@--export=domains", "delay_reason": "x"}, {"address": "w@example.com", "delay_reason": "x"}]}'
PQ
chmod 755 "$T_DIR/bin/postqueue"
# the real mxport-route, its arguments recorded
cat >"$T_DIR/bin/mxport-route" <<WRAP
#!/bin/sh
printf '%s\n' "\$*" >>"$T_DIR/route.args"
exec "$MXPORT_BUILDDIR/mxport-route" "\$@"
WRAP
chmod 755 "$T_DIR/bin/mxport-route"
printf 'example.com [127.0.0.1]:2525\n' >"$T_DIR/routes"
printf 'routes_file = %s\ndns_servers = 127.0.0.1:9\ndns_timeout = 1s\n' "$T_DIR/routes" >"$T_DIR/mxport.conf"
MXPORT_ROUTE="$T_DIR/bin/mxport-route" PATH="$T_DIR/bin:$PATH" \
	python3 "$MXPORT_BUILDDIR/mxport-queue" -c "$T_DIR/mxport.conf" --mta postfix --json \
	>"$T_DIR/report" 2>"$T_DIR/report.err"
t_eq "$?" 0 "mxport-queue reports on a queue with recipients u@-n and v@--export=domains"
t_grep "$T_DIR/route.args" "^-c $T_DIR/mxport\\.conf -- -n\$" "mxport-route is asked about the domain \"-n\" after --"
t_grep "$T_DIR/route.args" "^-c $T_DIR/mxport\\.conf -- --export=domains\$" "... and about \"--export=domains\" after --"
t_nogrep "$T_DIR/route.args" "conf (-n|--export=domains)\$" "... never as an option"
t_grep "$T_DIR/report" '"example\.com"' "the forwarded domain is in the report"

t_done
