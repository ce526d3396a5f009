#!/bin/sh
# test_deb.sh - the Debian package on a fresh Debian 12, as an admin uses it:
#   1. builds the .deb from this tree with the README's commands
#      (apt-get build-dep ./ ; dpkg-buildpackage -us -uc -b) and runs lintian;
#   2. debootstraps a fresh Debian 12 root (minbase, from the mirror this
#      machine's apt uses) and installs Postfix ("Internet Site") and then
#      the .deb with apt-get install ./mxport_*.deb in it (chroot);
#   3. checks what the package installed (user mxport in Postfix's groups,
#      also when Postfix comes after it), and that nothing of it runs;
#   4. adds a route, runs mxport-setup postfix (its default variant: no
#      milter, the LMTP daemon delivers), starts the daemons with their init
#      scripts as README.Debian tells an admin without systemd (service ...),
#      sends from a client outside mynetworks: the forwarded domain's
#      message arrives at the customer's server through the LMTP daemon, an
#      unknown domain is refused with 5xx, a message to a customer whose
#      server is down waits in Postfix's queue;
#   5. stops everything, purges the package, and checks what remains: no
#      mxport user, group, /etc/mxport, /var/lib/mxport, /run/mxport, init
#      scripts or units; Postfix's queued mail still there.
# The chroot's daemons run in a network namespace of their own (ip netns):
# port 25 and the test addresses (client 198.51.100.7, relay 192.0.2.25 on
# its lo) are the test's only. Prints TAP. Needs root and the packages that
# tests/deps.txt marks "package" (tests/install-deps.sh package).
# Usage: tests/package/test_deb.sh            (MXPORT_KEEP=1 keeps the files)
# Environment: MXPORT_DEBIAN_MIRROR overrides the mirror; with
# MXPORT_PACKAGE_CACHE=DIR the .deb and debootstrap's tree are kept there
# for test_deb_exim.sh, or taken from there (tests/package/debroot.sh).
. "$(dirname "$0")/debroot.sh"

deb_preflight
# --- 1. build the .deb with the README's commands ---------------------------
deb_build
# --- 2. a fresh Debian 12 root ---------------------------------------------
deb_root
deb_netns

# Downloads with the machine's network, installs in the namespace (a Postfix
# that its package starts listens there, not on this machine's port 25).
export DEBIAN_FRONTEND=noninteractive
chroot "$root" sh -c 'apt-get update -q && apt-get install -y -q --download-only postfix '"$debname" \
	>"$work/download.log" 2>&1
ok $? "apt-get downloads postfix and what $(basename "$deb") depends on"
printf '%s\n' 'postfix postfix/main_mailer_type select Internet Site' \
	'postfix postfix/mailname string relay.example' | in_root debconf-set-selections
in_root apt-get install -y -q postfix >"$work/postfix-install.log" 2>&1
ok $? "apt-get install postfix (Internet Site, Debian's stock master.cf)"
in_root sh -c "apt-get install -y -q $debname" >"$work/install.log" 2>&1
rc=$?
ok $rc "apt-get install ./$(basename "$deb")"
[ $rc -eq 0 ] || { show "$work/install.log"; bail "install"; }

# --- 3. what the package installed; nothing runs ---------------------------
uid=$(in_root id -u mxport 2>/dev/null)
[ -n "$uid" ] && [ "$uid" -lt 1000 ]
ok $? "system user mxport (uid ${uid:-none})"
in_root id -Gn mxport | grep -qw mxport
ok $? "group mxport"
in_root id -Gn mxport | grep -qw postfix
ok $? "user mxport is in group postfix (its sockets may have Postfix's group)"
! in_root id -Gn mxport | grep -qw postdrop
ok $? "user mxport is not in group postdrop (no maillog_file: it needs no postlog socket, and postdrop reaches all of public/)"
# Postfix installed (again) after mxport: the package's trigger puts mxport
# into Postfix's groups then too.
in_root deluser --quiet mxport postfix >/dev/null 2>&1
in_root deluser --quiet mxport postdrop >/dev/null 2>&1
gone=0
in_root id -Gn mxport | grep -qw -e postfix -e postdrop && gone=1
in_root apt-get install -y -q --reinstall postfix >"$work/postfix-reinstall.log" 2>&1
[ $gone -eq 0 ] && in_root id -Gn mxport | grep -qw postfix && ! in_root id -Gn mxport | grep -qw postdrop
ok $? "postfix installed after mxport: the trigger puts mxport into group postfix (not postdrop)"
for f in /usr/bin/mxport-route /usr/sbin/mxport-milter /usr/libexec/mxport-transport; do
	test -x "$root$f"
	ok $? "program $f"
done
for f in man1/mxport-route.1 man5/mxport.conf.5 man8/mxport-milter.8 man8/mxport-transport.8; do
	test -f "$root/usr/share/man/$f.gz"
	ok $? "man page $f"
done
in_root dpkg-query -W -f='${Conffiles}\n' mxport >"$work/conffiles"
for f in /etc/mxport/mxport.conf /etc/mxport/routes /etc/init.d/mxport-milter /etc/init.d/mxport-lmtp; do
	grep -q " $f " "$work/conffiles"
	ok $? "conffile $f"
done
for f in mxport-milter.service mxport-lmtp.service; do
	grep -q '^ExecStart=/usr/' "$root/lib/systemd/system/$f" &&
		! grep -q /usr/local "$root/lib/systemd/system/$f"
	ok $? "systemd unit $f with the installed paths"
done
unit=$root/lib/systemd/system/mxport-lmtp.service
grep -q '^ExecStart=/usr/libexec/mxport-transport \$ARGS$' "$unit" &&
	grep -q '^Environment="ARGS=.*-L unix:/var/spool/postfix/mxport/lmtp\.sock"$' "$unit" &&
	grep -q '^EnvironmentFile=-/etc/default/mxport-lmtp$' "$unit" &&
	grep -q '^User=mxport$' "$unit" && ! grep -q '^SupplementaryGroups=' "$unit"
ok $? "mxport-lmtp.service: user mxport with its own groups (postfix), the socket where mxport-setup postfix puts it unless /etc/default/mxport-lmtp says otherwise"
test ! -e "$root/etc/default/mxport-lmtp"
ok $? "no /etc/default/mxport-lmtp at install (Postfix's socket)"
# A RuntimeDirectory= shared by both units goes, with what the other keeps
# there, at the stop of one without RuntimeDirectoryPreserve=yes.
units=$root/lib/systemd/system
rundirs() { sed -n 's/^RuntimeDirectory=//p' "$units/$1.service" | tr ' ' '\n'; }
shared=0
for d in $(rundirs mxport-milter); do
	rundirs mxport-lmtp | grep -qx "$d" || continue
	for u in mxport-milter mxport-lmtp; do
		grep -q '^RuntimeDirectoryPreserve=yes$' "$units/$u.service" && continue
		shared=1
		echo "#   $u.service removes /run/$d, which both units use, when it stops"
	done
done
[ $shared -eq 0 ]
ok $? "neither unit removes the other's runtime directory when it stops"
ls "$root/etc/rc2.d" >"$work/rc2"
! grep -q '^S.*mxport' "$work/rc2"
ok $? "the init scripts are not enabled at install (no S link in rc2.d)"
root_pids | while read -r p; do cat "/proc/$p/cmdline" | tr '\0' ' '; echo; done >"$work/running"
! grep -q mxport "$work/running"
ok $? "nothing of mxport runs after the install"
grep mxport "$work/running" | sed 's/^/#   running: /'
in_root mxport-route -n >"$work/check.out" 2>&1
ok $? "mxport-route -n accepts the shipped /etc/mxport/mxport.conf"
show "$work/check.out" 5

# --- 4. configure, start with the init scripts, mail from outside ----------
start_customer "$work/peer"
cat >>"$root/etc/mxport/routes" <<EOF
fwd.example     [127.0.0.1]:$port
down.example    [127.0.0.1]:9
EOF
# the customer's server is on this relay's loopback in the test
echo 'allowed_networks = 127.0.0.0/8' >>"$root/etc/mxport/mxport.conf"
in_root mxport-route -n >"$work/check2.out" 2>&1
ok $? "mxport-route -n with two routes"
show "$work/check2.out" 5

# No syslog daemon in the fresh root (as on a default Debian 12): Postfix
# logs to a file through its postlogd, as an admin would set it.
in_root postconf maillog_file=/var/log/postfix.log
in_root mxport-setup postfix >"$work/setup.out" 2>&1
ok $? "mxport-setup postfix"
show "$work/setup.out" 40
grep -q 'set up for mxport (tmaps-lmtp)' "$work/setup.out"
ok $? "mxport-setup postfix: the default variant, tmaps-lmtp"
in_root id -Gn mxport | grep -qw postdrop
ok $? "maillog_file set: mxport-setup puts mxport into group postdrop (the postlog socket)"

in_root service mxport-milter start >"$work/milter-start.out" 2>&1
ok $? "service mxport-milter start"
show "$work/milter-start.out" 10
in_root service mxport-milter status >/dev/null 2>&1
ok $? "service mxport-milter status: running"
in_root service mxport-lmtp start >"$work/lmtp-start.out" 2>&1
ok $? "service mxport-lmtp start"
show "$work/lmtp-start.out" 10
in_root service mxport-lmtp status >/dev/null 2>&1
ok $? "service mxport-lmtp status: running"
test -S "$root/var/spool/postfix/mxport/lmtp.sock"
ok $? "the LMTP daemon's socket is in /var/spool/postfix/mxport"
in_root service postfix restart >"$work/postfix-start.out" 2>&1
ok $? "service postfix restart"
show "$work/postfix-start.out" 10
until_true 100 port25

send bob@fwd.example >"$work/send1.out" 2>&1
ok $? "from 198.51.100.7: bob@fwd.example accepted"
show "$work/send1.out" 5
i=0
while [ ! -f "$work/peer/msg.1" ] && [ $i -lt 150 ]; do
	sleep 0.2
	i=$((i + 1))
done
grep -q 'Hello from the test' "$work/peer/msg.1" 2>/dev/null
ok $? "the message arrived at the customer's server (127.0.0.1:$port)"
grep -q 'RCPT TO:<bob@fwd.example>' "$work/peer/env.1" 2>/dev/null
ok $? "with its recipient"
grep -Eq 'postfix/lmtp\[[0-9]+\]: [0-9A-F]+: to=<bob@fwd\.example>, relay=.*lmtp\.sock.*status=sent' "$root/var/log/postfix.log"
ok $? "delivered by Postfix's chrooted lmtp(8) through the LMTP daemon (the default path)"
[ -f "$work/peer/msg.1" ] || show "$root/var/log/postfix.log" 40

send carol@unknown.example >"$work/send2.out" 2>&1
grep -Eq '^RCPT <?carol@unknown.example>? 5[0-9][0-9] ' "$work/send2.out"
ok $? "from 198.51.100.7: carol@unknown.example (not forwarded) refused with 5xx"
show "$work/send2.out" 5

send dave@down.example >"$work/send3.out" 2>&1
ok $? "from 198.51.100.7: dave@down.example accepted (its server is down)"
i=0
until [ -n "$(find "$root/var/spool/postfix/deferred" -type f 2>/dev/null)" ] || [ $i -ge 150 ]; do
	sleep 0.2
	i=$((i + 1))
done
queued=$(find "$root/var/spool/postfix/deferred" -type f | wc -l)
[ "$queued" -ge 1 ]
ok $? "dave@down.example's message waits in Postfix's deferred queue ($queued)"

# A bad routes line: reload refuses it, naming the file and line, and the
# running milter keeps its configuration.
echo 'bad..example [127.0.0.1]:25' >>"$root/etc/mxport/routes"
in_root service mxport-milter reload >"$work/reload.out" 2>&1
[ $? -ne 0 ] && grep -q '/etc/mxport/routes:[0-9]' "$work/reload.out"
ok $? "service mxport-milter reload refuses a bad routes line, naming /etc/mxport/routes:LINE"
show "$work/reload.out" 5
in_root service mxport-milter status >/dev/null 2>&1
ok $? "the milter still runs after the refused reload"
sed -i '/^bad\.\.example/d' "$root/etc/mxport/routes"
in_root service mxport-milter reload >"$work/reload2.out" 2>&1
ok $? "service mxport-milter reload with the line removed"

# A route added after a refusal: the init script's reload writes Postfix's
# routes table (mxport-setup postfix --update-routes); no postfix reload.
send erin@later.example >"$work/send4.out" 2>&1
grep -Eq '^RCPT <?erin@later.example>? 5[0-9][0-9] ' "$work/send4.out"
ok $? "later.example before its route: refused with 5xx"
echo "later.example   [127.0.0.1]:$port" >>"$root/etc/mxport/routes"
in_root service mxport-milter reload >"$work/reload3.out" 2>&1
ok $? "service mxport-milter reload after the route was added"
show "$work/reload3.out" 5
i=0
until send erin@later.example >"$work/send5.out" 2>&1 && grep -q '^DATA 250 ' "$work/send5.out"; do
	[ $i -ge 100 ] && break
	sleep 0.2
	i=$((i + 1))
done
grep -q '^DATA 250 ' "$work/send5.out"
ok $? "... then accepted with no postfix reload (after $i retries)"

# --- 5. purge with the daemons running, what remains ------------------------
# As the README's order has it in a container (no init system): take mxport
# out of Postfix, then purge; the package stops its daemons itself.
in_root service postfix stop >/dev/null 2>&1
root_pids | while read -r p; do cat "/proc/$p/cmdline" | tr '\0' ' '; echo; done >"$work/running.before"
grep -q 'mxport-milter' "$work/running.before" && grep -q 'mxport-transport' "$work/running.before"
ok $? "before the purge: both daemons run (started with service ...)"
in_root service mxport-lmtp status >"$work/status.lmtp" 2>&1
ok $? "service mxport-lmtp status: running, exit 0"
in_root mxport-setup postfix --undo >"$work/undo.out" 2>&1
ok $? "mxport-setup postfix --undo"
show "$work/undo.out" 20
etc_check=$root/etc
in_root apt-get purge -y -q mxport >"$work/purge.out" 2>&1
ok $? "apt-get purge mxport"
show "$work/purge.out" 10
! grep -q 'currently used by process' "$work/purge.out"
ok $? "purge: userdel found no process of user mxport"
# The purge waits for its kills itself; the half second the test allowed a
# killed process to leave /proc stays, as a deadline, not a fixed sleep.
i=0
while running && grep -q mxport "$work/running" && [ $i -lt 3 ]; do
	sleep 0.2
	i=$((i + 1))
done
! grep -q mxport "$work/running"
ok $? "purge stopped the daemons itself: no mxport process left"
grep mxport "$work/running" | sed 's/^/#   running: /'
test ! -e "$root/var/spool/postfix/mxport"
ok $? "purge removed /var/spool/postfix/mxport and its sockets"
! in_root getent group postfix postdrop | grep -q mxport
ok $? "mxport is in neither group postfix nor postdrop"
! in_root dpkg-query -W -f='${db:Status-Abbrev}' mxport 2>/dev/null | grep -q '^[ir]'
ok $? "dpkg: mxport not installed, no config files left"
! in_root getent passwd mxport >/dev/null
ok $? "purge removed user mxport"
! in_root getent group mxport >/dev/null
ok $? "purge removed group mxport"
for d in /etc/mxport /var/lib/mxport /run/mxport /etc/init.d/mxport-milter /etc/init.d/mxport-lmtp \
	/lib/systemd/system/mxport-milter.service /lib/systemd/system/mxport-lmtp.service \
	/usr/sbin/mxport-milter; do
	test ! -e "$root$d"
	ok $? "purge removed $d"
done
test ! -e "$root/var/spool/postfix/mxport"
ok $? "purge removed /var/spool/postfix/mxport (its owner's uid is gone)"
# shellcheck disable=SC2086 # $etc_check is find arguments
find $etc_check -name '*mxport*' -print >"$work/etc-left"
[ ! -s "$work/etc-left" ]
ok $? "nothing named mxport left in /etc"
sed 's/^/#   left: /' "$work/etc-left"
queued=$(find "$root/var/spool/postfix/deferred" -type f | wc -l)
[ "$queued" -ge 1 ]
ok $? "the queued mail is still in Postfix's queue ($queued)"

echo "1..$n"
[ "$failed" -eq 0 ]
