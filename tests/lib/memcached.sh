# memcached.sh - Debian's memcached on a loopback port, for the tests of
# shared_state (several relays, one memcached). Source after harness.sh.
# Sets MC_PORT (a free port, the same across restarts) and MC_PID.

need memcached python3
MC_PORT=$(free_port)
MC_PID=""

# memcached_start - memcached on 127.0.0.1:$MC_PORT, TCP only, until it answers
memcached_start() {
	memcached -u nobody -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 16 &
	MC_PID=$!
	T_PIDS="$T_PIDS $MC_PID"
	wait_for "memcached on port $MC_PORT" python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $MC_PORT), 1)
s.sendall(b'version\r\n'); assert s.recv(100).startswith(b'VERSION')"
}

# memcached_kill - gone at once (SIGKILL), as a crash (a stopped one too)
memcached_kill() {
	kill -CONT "$MC_PID" 2>/dev/null
	kill -KILL "$MC_PID" 2>/dev/null
	wait "$MC_PID" 2>/dev/null
}
