# exim.sh - a private Exim 4 on loopback as the customer's server, for the
# interop tests. Source after harness.sh and postfix.sh (for ensure_user).
#
# Installing Debian's exim4 removes Postfix (each is the system MTA), so its
# daemon package is unpacked into a folder of their own, once, with the
# set-user-id bit taken off; the libraries it needs are in .ci/run.

# exim_fetch - the unpacked Debian Exim in $EXIM_ROOT
exim_fetch() {
	need dpkg
	EXIM_ROOT=${MXPORT_EXIM_ROOT:-/var/tmp/mxport-exim}
	if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
		need apt-get
		rm -rf "$EXIM_ROOT" "$EXIM_ROOT.debs"
		mkdir -p "$EXIM_ROOT.debs"
		chmod 777 "$EXIM_ROOT.debs" # apt-get download runs as _apt where it can
		if ! (cd "$EXIM_ROOT.debs" && apt-get download exim4-daemon-light) \
			>"$T_DIR/exim-download.log" 2>&1; then
			cat "$T_DIR/exim-download.log"
			echo "Bail out! cannot download Debian's exim4-daemon-light (apt-get download)"
			exit 99
		fi
		dpkg -x "$EXIM_ROOT.debs"/exim4-daemon-light_*.deb "$EXIM_ROOT.tmp" &&
			chmod u-s,g-s "$EXIM_ROOT.tmp/usr/sbin/exim4" &&
			mv "$EXIM_ROOT.tmp" "$EXIM_ROOT"
	fi
	if ldd "$EXIM_ROOT/usr/sbin/exim4" | grep -q "not found"; then
		ldd "$EXIM_ROOT/usr/sbin/exim4" | grep "not found"
		echo "Bail out! libraries for Exim are missing (see .ci/run)"
		exit 99
	fi
	# the user Debian's Exim is built to run as
	ensure_user Debian-exim
}

# start_exim NAME PORT INTERFACES CERT KEY DOMAIN [EXTRA_MAIN...] - Exim
# listening on INTERFACES (Exim list: "127.0.0.1 : 127.0.0.2") port PORT,
# STARTTLS with CERT, taking mail for DOMAIN into the maildir
# $T_DIR/exim.NAME/mail (files in new/); AUTH PLAIN as cust / s3cret pass,
# offered over TLS only. Sets EXIM_DIR.
start_exim() {
	EXIM_DIR="$T_DIR/exim.$1"
	mkdir -p "$EXIM_DIR/spool" "$EXIM_DIR/log" "$EXIM_DIR/mail"
	chown -R Debian-exim "$EXIM_DIR"
	port=$2
	ifaces=$3
	cert=$4
	key=$5
	domain=$6
	shift 6
	{
		cat <<EXEOF
exim_path = $EXIM_ROOT/usr/sbin/exim4
primary_hostname = customer.test
spool_directory = $EXIM_DIR/spool
log_file_path = $EXIM_DIR/log/%slog
pid_file_path = $EXIM_DIR/exim.pid
daemon_smtp_ports = $port
local_interfaces = $ifaces
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = $cert
tls_privatekey = $key
domainlist local_domains = $domain
acl_smtp_rcpt = acl_check_rcpt
EXEOF
		for line in "$@"; do echo "$line"; done
		cat <<EXEOF
begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted
begin routers
local:
  driver = accept
  domains = +local_domains
  transport = store
begin transports
store:
  driver = appendfile
  directory = $EXIM_DIR/mail
  maildir_format
  user = Debian-exim
  group = Debian-exim
  mode = 0644
  envelope_to_add = false
  return_path_add = false
  delivery_date_add = false
begin authenticators
plain_server:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{cust}}{eq{\$auth3}{s3cret pass}}}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}
EXEOF
	} >"$EXIM_DIR/exim.conf"
	"$EXIM_ROOT/usr/sbin/exim4" -C "$EXIM_DIR/exim.conf" -bdf -q30m >>"$EXIM_DIR/stderr" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "exim on port $port" python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()"
}

# exim_msgs DIR - messages an Exim has stored
exim_msgs() {
	ls "$1/mail/new" 2>/dev/null | grep -c .
}

# The relay: a private Exim configured from contrib/exim, in front of
# mxport. Source after postfix.sh (ensure_user, wait_until).

# exim_contrib FILE - a contrib/exim file with its paths made this test's
# (the sockets, /etc/mxport, Exim's user as Debian builds it)
exim_contrib() {
	sed -e "s|/run/mxport|$T_DIR/run|g" \
		-e "s|/etc/mxport|$T_DIR/etc|g" \
		-e "s|^\(  user = \)exim$|\1Debian-exim|" "$1"
}

# setup_mxport_exim ROUTES [MXPORT_CONF_LINES] - binaries, contrib/exim's
# mxport.conf (and the test's lines) and the routes file in $T_DIR; sets MXLOG
setup_mxport_exim() {
	ensure_user mxport
	mkdir -p "$T_DIR/bin" "$T_DIR/etc" "$T_DIR/run"
	chmod 755 "$T_DIR/bin" "$T_DIR/etc" "$T_DIR/run"
	chown mxport "$T_DIR/run"
	cp "$MXPORT_BUILDDIR/mxport-transport" "$MXPORT_BUILDDIR/mxport-milter" \
		"$MXPORT_BUILDDIR/mxport-route" "$T_DIR/bin/"
	printf '%s\n' "$1" >"$T_DIR/etc/routes"
	MXLOG="$T_DIR/mxport.log"
	: >"$MXLOG"
	chmod 666 "$MXLOG"
	{
		exim_contrib "$MXPORT_SRCDIR/contrib/exim/mxport.conf"
		echo "log_file = $MXLOG"
		echo "allowed_networks = 127.0.0.0/8"
		echo "helo_name = relay.test"
		echo "connect_timeout = 3s"
		echo "command_timeout = 10s"
		printf '%s\n' "${2:-}"
	} >"$T_DIR/etc/mxport.conf"
	chmod 644 "$T_DIR/etc/mxport.conf" "$T_DIR/etc/routes"
}

# start_milter_exim - mxport-milter (for its socketmap), as user mxport
start_milter_exim() {
	rm -f "$T_DIR/run/milter.pid"
	"$T_DIR/bin/mxport-milter" -f -c "$T_DIR/etc/mxport.conf" -u mxport \
		-P "$T_DIR/run/milter.pid" >>"$T_DIR/milter.stderr" 2>&1 &
	MILTER_PID=$!
	wait_for "mxport-milter socketmap" test -S "$T_DIR/run/socketmap.sock"
}

# start_lmtp_exim - mxport-transport -L on $T_DIR/run/lmtp.sock, as user
# mxport with group Debian-exim among its groups (the socket's group); sets
# LMTP_PID
start_lmtp_exim() {
	setpriv --reuid=mxport --regid=mxport --groups=Debian-exim -- "$T_DIR/bin/mxport-transport" \
		-c "$T_DIR/etc/mxport.conf" -L "unix:$T_DIR/run/lmtp.sock" >>"$T_DIR/lmtp.stderr" 2>&1 &
	LMTP_PID=$!
	T_PIDS="$T_PIDS $!"
	wait_for "LMTP daemon" test -S "$T_DIR/run/lmtp.sock"
}

# start_exim_relay PORT CONFIG - Exim on 127.0.0.1:PORT with CONFIG (an
# exim.conf made from contrib/exim) behind this test's own main settings:
# spool, log and pid file in $T_DIR/relay, no DNS for host names. The
# daemon runs no queue runner: deferred mail waits for exim -qff / -R.
# Sets RELAY (the folder) and EXIM (the command, with -C).
start_exim_relay() {
	RELAY="$T_DIR/relay"
	mkdir -p "$RELAY/spool" "$RELAY/log"
	chown -R Debian-exim "$RELAY"
	{
		cat <<EXEOF
exim_path = $EXIM_ROOT/usr/sbin/exim4
keep_environment = LD_LIBRARY_PATH
spool_directory = $RELAY/spool
log_file_path = $RELAY/log/%slog
pid_file_path = $RELAY/exim.pid
daemon_smtp_ports = $1
local_interfaces = 127.0.0.1
EXEOF
		sed -e 's/^primary_hostname = .*/primary_hostname = relay.test/' \
			-e 's/^host_lookup = .*/host_lookup =/' \
			-e "s|^\(smtp_etrn_command = \$exim_path\) |\1 -C $RELAY/exim.conf |" "$2"
	} >"$RELAY/exim.conf"
	EXIM="$EXIM_ROOT/usr/sbin/exim4 -C $RELAY/exim.conf"
	$EXIM -bV >"$RELAY/bV.out" 2>&1 || { cat "$RELAY/bV.out"; echo "Bail out! exim -bV: the relay's configuration is refused"; exit 99; }
	$EXIM -bdf >>"$RELAY/stderr" 2>&1 &
	T_PIDS="$T_PIDS $!"
	wait_for "exim relay on port $1" python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()"
}

# exim_fetch_config - Debian's exim4-config (update-exim4.conf, /etc/exim4
# with conf.d) unpacked in $EXIM_CFG_ROOT, once
exim_fetch_config() {
	need dpkg
	EXIM_CFG_ROOT=${MXPORT_EXIM_CFG_ROOT:-/var/tmp/mxport-exim-config}
	if [ ! -x "$EXIM_CFG_ROOT/usr/sbin/update-exim4.conf" ]; then
		need apt-get
		rm -rf "$EXIM_CFG_ROOT" "$EXIM_CFG_ROOT.debs" "$EXIM_CFG_ROOT.tmp"
		mkdir -p "$EXIM_CFG_ROOT.debs"
		chmod 777 "$EXIM_CFG_ROOT.debs"
		if ! (cd "$EXIM_CFG_ROOT.debs" && apt-get download exim4-config) \
			>"$T_DIR/exim-config-download.log" 2>&1; then
			cat "$T_DIR/exim-config-download.log"
			echo "Bail out! cannot download Debian's exim4-config (apt-get download)"
			exit 99
		fi
		dpkg -x "$EXIM_CFG_ROOT.debs"/exim4-config_*.deb "$EXIM_CFG_ROOT.tmp" &&
			mv "$EXIM_CFG_ROOT.tmp" "$EXIM_CFG_ROOT"
	fi
}
