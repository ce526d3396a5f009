#!/bin/sh
# test_queue - mxport-queue(8) on a private Postfix: mail deferred for two
# forwarded domains (their servers down) shows per domain with the right
# counts, ages, sizes and errors, in the table and in JSON; --list shows the
# routes; --flush delivers one domain's mail once its server is up, and
# leaves the other's waiting.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
. "$MXPORT_SRCDIR/tests/lib/postfix.sh"
need python3 postfix

start_peer senders '{}'
PS=$PEER_PORT
DOWN_A=$(free_port)
DOWN_B=$(free_port)
PF_PORT=$(free_port)
setup_mxport "a.example [127.0.0.1]:$DOWN_A
b.example [127.0.0.1]:$DOWN_B
idle.example [127.0.0.1]:$DOWN_B
.sub.example [127.0.0.1]:$DOWN_B"
start_milter
start_postfix "$PS"
cp "$MXPORT_BUILDDIR/mxport-queue" "$T_DIR/bin/"
MXPORT_ROUTE="$T_DIR/bin/mxport-route"
export MXPORT_ROUTE
# mxq ARGS... - mxport-queue on this test's Postfix and mxport.conf
mxq() {
	"$T_DIR/bin/mxport-queue" -c "$T_DIR/etc/mxport.conf" --mta postfix -C "$PF/etc" "$@"
}
# jq_py EXPR - evaluate a Python expression on the JSON in $T_DIR/q.json (as "j")
jq_py() {
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$T_DIR/q.json"
}

mxq --json >"$T_DIR/q.json"
t_eq "$(jq_py 'len(j["domains"])')" 0 "empty queue: no domain listed"

send_mail alice@sender.test u1@a.example >"$T_DIR/s1" 2>&1
sleep 2
send_mail alice@sender.test u2@a.example,u3@a.example >"$T_DIR/s2" 2>&1
send_mail alice@sender.test u4@b.example >"$T_DIR/s3" 2>&1
wait_until 30 sh -c "[ \$(grep -c 'status=deferred' '$PF/maillog') -ge 4 ]"
t_ok $? "four recipients deferred (servers down)"
# No more retries by themselves: the queue holds still while it is read, and
# only the flush below can deliver.
postconf -c "$PF/etc" -e queue_run_delay=600s minimal_backoff_time=600s maximal_backoff_time=900s
postfix -c "$PF/etc" reload >/dev/null 2>&1
sleep 2
wait_until 20 sh -c "[ \$(postqueue -c '$PF/etc' -j | grep -c '\"queue_name\": *\"active\"') -eq 0 ]"

mxq --json >"$T_DIR/q.json"
t_eq "$?" 0 "--json: exit 0"
t_eq "$(jq_py '[d["domain"] for d in j["domains"]]')" "['a.example', 'b.example']" "--json: the two forwarded domains with mail waiting, nothing else"
t_eq "$(jq_py '[d["messages"] for d in j["domains"]]')" "[2, 1]" "--json: messages per domain"
t_eq "$(jq_py '[d["recipients"] for d in j["domains"]]')" "[3, 1]" "--json: recipients per domain"
t_eq "$(jq_py 'j["domains"][0]["oldest_age"] >= 2 and j["domains"][0]["oldest_age"] < 120')" True "--json: a.example's oldest is its first message (2 s older)"
t_eq "$(jq_py 'j["domains"][0]["oldest_age"] > j["domains"][1]["oldest_age"]')" True "--json: a.example's oldest is older than b.example's"
t_eq "$(jq_py 'j["domains"][0]["size"] > j["domains"][1]["size"] > 200')" True "--json: sizes add up per domain (two messages > one)"
t_eq "$(jq_py '"127.0.0.1[127.0.0.1]:'"$DOWN_A"'" in j["domains"][0]["last_error"] and "Connection refused" in j["domains"][0]["last_error"]')" True "--json: a.example's last error names its server and the refusal"
t_eq "$(jq_py '":'"$DOWN_B"'" in j["domains"][1]["last_error"]')" True "--json: b.example's last error names its own server"

mxq >"$T_DIR/q.txt"
t_grep "$T_DIR/q.txt" "^DOMAIN +MSGS +RCPTS +OLDEST +SIZE +LAST ERROR$" "table: header"
t_grep "$T_DIR/q.txt" "^a\\.example +2 +3 +[0-9]+s +[0-9.]+K? +.*Connection refused" "table: a.example's row"
t_grep "$T_DIR/q.txt" "^b\\.example +1 +1 " "table: b.example's row"

mxq --list --json >"$T_DIR/q.json"
t_eq "$(jq_py '[d["domain"] for d in j["domains"]]')" "['a.example', 'b.example', 'idle.example', '.sub.example']" "--list: every forwarded domain of the routes file"
t_eq "$(jq_py '[(t["host"], t["port"]) for t in j["domains"][0]["route"]["targets"]]')" "[('[127.0.0.1]', $DOWN_A)]" "--list: a.example's route now"
t_eq "$(jq_py 'j["domains"][2]["messages"]')" 0 "--list: idle.example has nothing waiting"
mxq --list >"$T_DIR/q.txt"
t_grep "$T_DIR/q.txt" "^idle\\.example +0 +forwarded +\\[127\\.0\\.0\\.1\\]:$DOWN_B \\(pref 0, tls may\\)" "--list: table row with the route"

# A broken routes file (the issue's typo): mxport-queue still shows the
# queue and the good lines' domains, and names the file and line.
cp "$T_DIR/etc/routes" "$T_DIR/routes.good"
echo 'cust6.example [127.0.0.1]:25x27' >>"$T_DIR/etc/routes"
mxq --json >"$T_DIR/q.json" 2>"$T_DIR/q.err"
t_eq "$?" 0 "broken routes file: --json still works, exit 0"
t_grep "$T_DIR/q.err" "^mxport-queue: warning: $T_DIR/etc/routes:5: '\\[127\\.0\\.0\\.1\\]:25x27': '25x27' is not a port number" "broken routes file: names file and line"
t_nogrep "$T_DIR/q.err" "nothing written" "broken routes file: no bare '--export: 1 error(s), nothing written'"
t_eq "$(jq_py '[(d["domain"], d["messages"]) for d in j["domains"]]')" "[('a.example', 2), ('b.example', 1)]" "broken routes file: the queue per domain as before"
mxq --list >"$T_DIR/q.txt" 2>"$T_DIR/q.err"
t_grep "$T_DIR/q.txt" "^idle\\.example +0 +forwarded" "broken routes file: --list shows the good lines' routes"
"$MXPORT_ROUTE" -c "$T_DIR/etc/mxport.conf" -n >"$T_DIR/n.txt" 2>"$T_DIR/n.err"
t_eq "$?" 78 "broken routes file: mxport-route -n exit 78"
t_grep "$T_DIR/n.txt" "routes file $T_DIR/etc/routes: 4 routes \\(1 subdomain entry, 0 null routes\\) on its good lines" "mxport-route -n: counts the good routes"
t_grep "$T_DIR/n.err" "routes:5: " "mxport-route -n: names the bad line"
cp "$T_DIR/routes.good" "$T_DIR/etc/routes"
"$MXPORT_ROUTE" -c "$T_DIR/etc/mxport.conf" -n >"$T_DIR/n.txt" 2>&1
t_eq "$?" 0 "mended routes file: mxport-route -n exit 0"
t_grep "$T_DIR/n.txt" "routes file $T_DIR/etc/routes: 4 routes" "mxport-route -n: says which routes file and how many routes"
t_grep "$T_DIR/n.txt" "^  log: also the file $T_DIR/mxport.log" "mxport-route -n: says where the daemons log"

mxq --flush other.test >"$T_DIR/f0" 2>&1
t_eq "$?" 1 "--flush of a domain that is not forwarded: exit 1"
mxq --flush 'a.example;rm -rf /' >"$T_DIR/f0" 2>&1
t_eq "$?" 1 "--flush of a hostile name: refused"

# a.example's server comes up: a flush delivers its mail now, once; b.example's waits.
start_peer custA "{\"port\": $DOWN_A}"
A="$PEER_DIR"
mxq --flush a.example >"$T_DIR/f1" 2>&1
t_eq "$?" 0 "--flush a.example: exit 0"
t_grep "$T_DIR/f1" "^a\\.example: flush requested \\(postqueue" "--flush: says how"
wait_until 15 have_msgs "$A" 3
t_eq "$(count_msgs "$A")" 3 "--flush: a.example's mail delivered (three recipients, one delivery each)"
wait_until 10 sh -c "[ \$(postqueue -c '$PF/etc' -j | grep -c a.example) -eq 0 ]"
mxq --json >"$T_DIR/q.json"
t_eq "$(jq_py '[(d["domain"], d["messages"]) for d in j["domains"]]')" "[('b.example', 1)]" "after the flush: only b.example waits"
sleep 3
t_eq "$(count_msgs "$A")" 3 "--flush: delivered once, no duplicates"

t_done
