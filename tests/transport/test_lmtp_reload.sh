#!/bin/sh
# test_lmtp_reload - a long-lived LMTP front sees every edit of its files,
# one made within the same second as the last load too (an edit compared by
# st_mtime seconds alone was missed), and defers while the configuration is
# in error the last good configuration stays in force (the broken change is
# refused and logged, naming file and line), taking the fix without a
# restart.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need python3 setpriv

# run as nobody: a copy in T_DIR (t_share), reachable wherever the clone is
TRANSPORT=$(t_share "$MXPORT_BUILDDIR/mxport-transport")
LOG="$T_DIR/transport.log"
: >"$LOG"
chmod 666 "$LOG"

start_peer first '{}'
DIR_A=$PEER_DIR
PORT_A=$PEER_PORT
start_peer second '{}'
DIR_B=$PEER_DIR
PORT_B=$PEER_PORT

{
	echo "routes_file = $T_DIR/routes"
	echo "allowed_networks = 127.0.0.0/8"
	echo "log_file = $LOG"
	echo "dns_servers = 127.0.0.1:9"
	echo "tls_mode = none"
	echo "connection_cache_time = 0"
} >"$T_DIR/mxport.conf"
chmod 644 "$T_DIR/mxport.conf"

# One LMTP session, four messages. Just after a second begins the routes
# file is written again and message 1 loads it (once it was still for a
# second: a file being written is not taken); the file is then rewritten
# in place (same size, same inode) at once after its reply, so that the
# edit falls within the second of the last change the daemon saw; message
# 2 must follow the edit. Then mxport.conf is broken (message 3a is
# delivered with the configuration in force) and mended (message 3b).
python3 - "$T_DIR" "$PORT_A" "$PORT_B" "$TRANSPORT" >"$T_DIR/out" 2>"$T_DIR/err" <<'PY'
import os, subprocess, sys, time
tdir, port_a, port_b, transport = sys.argv[1:5]
routes = os.path.join(tdir, "routes")
conf = os.path.join(tdir, "mxport.conf")
a = "example.com [127.0.0.1]:%s\n" % port_a
b = "example.com [127.0.0.1]:%s\n" % port_b
b = b if len(b) == len(a) else b.rstrip("\n") + " " * (len(a) - len(b)) + "\n"
open(routes, "w").write(a)
os.chmod(routes, 0o644)
p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                      transport, "-c", conf, "-L", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def send(s):
    p.stdin.write(s.encode() + b"\r\n"); p.stdin.flush()
def reply():
    while True:
        line = p.stdout.readline().decode()
        if not line or line[3:4] != "-":
            return line.strip()
def message(rcpt):
    send("MAIL FROM:<alice@sender.test>"); reply()
    send("RCPT TO:<%s>" % rcpt); reply()
    send("DATA"); reply()
    send("Subject: reload\r\n\r\nhello\r\n."); return reply()
reply(); send("LHLO client.test"); reply()
while time.time() % 1 > 0.2:
    time.sleep(0.01)
t0 = time.time()
open(routes, "w").write(a)  # written again: message 1 loads it, in this second
print("1", message("one@example.com"))
t1 = time.time()  # the load was just before this reply (after the file was still for 1 s)
with open(routes, "r+") as f:
    f.write(b)
print("same-second", int(os.stat(routes).st_mtime) == int(t1))
print("2", message("two@example.com"))
text = open(conf).read()
open(conf, "w").write(text + "no_such_key = 1\n")
print("3a", message("three@example.com"))
open(conf, "w").write(text)
print("3b", message("four@example.com"))
send("QUIT"); reply()
PY
t_eq "$?" 0 "the LMTP session ran to its end"
t_grep "$T_DIR/out" '^1 250 ' "message 1 delivered"
t_grep "$DIR_A/env.1" '^RCPT TO:<one@example\.com>$' "message 1 went to the first route"
t_grep "$T_DIR/out" '^same-second True$' "the routes file was edited within the second of its load"
t_grep "$T_DIR/out" '^2 250 ' "message 2 delivered"
t_ok "$(cat "$DIR_B"/env.* 2>/dev/null | grep -q '^RCPT TO:<two@example\.com>$'; echo $?)" "message 2 followed the edit made within the same second"
t_grep "$T_DIR/out" '^3a 250 ' "a broken mxport.conf under the running daemon: refused, the last good configuration delivers"
t_grep "$LOG" 'mxport\.conf:7: no_such_key: unknown key' "the broken mxport.conf is logged, naming file and line"
t_grep "$LOG" 'change refused; the configuration loaded .* stays in force' "the refusal says the configuration in force stays"
t_grep "$T_DIR/out" '^3b 250 ' "the fix applies to the next message, without a restart"
t_done
