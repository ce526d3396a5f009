# postfix_stock.sh - a private Postfix set up as Debian ships it: Debian's
# main.cf as the package's "Internet Site" answer leaves it, Debian's stock
# master.cf (/usr/share/postfix/master.cf.dist) with its chrooted services,
# and in the queue directory the copies of /etc files that Debian's postfix
# init script puts there. Nothing of mxport is in it: mxport-setup adds that.
# Source after harness.sh and postfix.sh.

# stock_postfix_config - write $PF/etc/{main,master}.cf and the chroot files
stock_postfix_config() {
	PF="$T_DIR/postfix"
	mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
	chown root:root "$PF/queue"
	chmod 755 "$PF/queue"
	chown postfix:postfix "$PF/data"
	chmod 700 "$PF/data"
	# Debian's main.cf, then what postinst writes for "Internet Site"; only
	# the paths, the host name and the smtpd address are this test's.
	cat /usr/share/postfix/main.cf.debian >"$PF/etc/main.cf"
	cat >>"$PF/etc/main.cf" <<PFEOF
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = relay.test
alias_maps = hash:$PF/etc/aliases
alias_database = hash:$PF/etc/aliases
myorigin = relay.test
mydestination = \$myhostname, relay.test, localhost
relayhost =
mynetworks = 127.0.0.0/8
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = loopback-only
inet_protocols = ipv4
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $T_DIR
smtpd_peername_lookup = no
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
PFEOF
	# The stock master.cf; its smtpd on our port instead of 25, chroot y as Debian has it.
	awk -v port="127.0.0.1:$PF_PORT" '
		/^smtp[ \t]+inet/ { $1 = port }
		{ print }' /usr/share/postfix/master.cf.dist >"$PF/etc/master.cf"
	# What configure-instance.sh copies into the chroot.
	mkdir -p "$PF/queue/etc" "$PF/queue/usr/lib/zoneinfo"
	for f in localtime services resolv.conf hosts host.conf nsswitch.conf; do
		[ -f "/etc/$f" ] && cp "/etc/$f" "$PF/queue/etc/$f" && chmod a+rX "$PF/queue/etc/$f"
	done
	ln -sf /etc/localtime "$PF/queue/usr/lib/zoneinfo/localtime"
	# postmaster is delivered locally, to a file (as nobody: the alias file is root's)
	PM_BOX="$T_DIR/postmaster.mbox"
	: >"$PM_BOX"
	chmod 666 "$PM_BOX"
	printf 'postmaster: %s\nabuse: postmaster\n' "$PM_BOX" >"$PF/etc/aliases"
	postalias -c "$PF/etc" "$PF/etc/aliases"
}

# stock_postfix_start - check and start it
stock_postfix_start() {
	postfix -c "$PF/etc" check >"$PF/check.log" 2>&1 || { cat "$PF/check.log"; echo "Bail out! postfix check failed"; exit 99; }
	postfix -c "$PF/etc" start >>"$PF/check.log" 2>&1 || { cat "$PF/check.log"; echo "Bail out! postfix start failed"; exit 99; }
	T_STOP="${T_STOP:-} postfix -c $PF/etc stop;"
	wait_for "postfix smtpd" python3 -c "import socket; socket.create_connection(('127.0.0.1', $PF_PORT)).close()"
}

# outside_address ADDR - ADDR/32 on lo for a client outside mynetworks
# (removed when the test ends, if this test added it)
outside_address() {
	need ip
	if ! ip -4 addr show dev lo | grep -q " $1/32 "; then
		ip addr add "$1/32" dev lo || { echo "Bail out! cannot add $1 to lo"; exit 99; }
		T_STOP="${T_STOP:-} ip addr del $1/32 dev lo;"
	fi
}
