#!/bin/sh
# test_deb_exim.sh - the Debian package on a fresh Debian 12 whose MTA is
# Exim, as an Exim admin uses it (contrib/exim/README.md, README.Debian):
#   1. the .deb and a fresh Debian 12 root, as test_deb.sh makes them
#      (taken from MXPORT_PACKAGE_CACHE when test_deb.sh ran before);
#   2. installs exim4 (exim4-daemon-light, Debian's "internet site" answers
#      and the split configuration, as the README's dpkg-reconfigure step
#      gives them), then the .deb with apt-get install ./mxport_*.deb:
#      mxport joins group Debian-exim, nothing runs, Exim's configuration
#      is not touched;
#   3. follows the README: a route, log_file, mxport-setup exim --dry-run
#      and mxport-setup exim (which writes /etc/default/mxport-lmtp), the
#      daemons started with their init scripts (update-rc.d, service) as
#      an admin without systemd would, service exim4 reload;
#   4. from a client outside the relay's networks: the forwarded domain's
#      message reaches the customer's server through the LMTP daemon, with
#      Exim's message id in mxport's log line; an unknown domain gets 5xx;
#      a customer whose server is down: the message waits in Exim's queue
#      (exim -bp) and is delivered by exim -R once the server is back; with
#      mxport's daemons stopped the relay's own mail (a local user, from
#      outside and from sendmail) is delivered; Exim's paniclog stays empty;
#   5. mxport-setup exim --undo, service exim4 reload, apt-get purge: no
#      user, group, file or process of mxport is left, and Exim still
#      delivers its own mail and refuses the formerly forwarded domain.
# The root's daemons run in a network namespace of their own (ip netns),
# as in test_deb.sh. Prints TAP. Needs root and the packages that
# tests/deps.txt marks "package" (tests/install-deps.sh package).
# Usage: tests/package/test_deb_exim.sh       (MXPORT_KEEP=1 keeps the files)
# Environment: MXPORT_DEBIAN_MIRROR, MXPORT_PACKAGE_CACHE (debroot.sh).
. "$(dirname "$0")/debroot.sh"
t0=$(date +%s)

deb_preflight
deb_build
deb_root
deb_netns

# --- 2. Exim, then mxport ---------------------------------------------------
# Downloads with the machine's network, installs in the namespace (the Exim
# that its package starts listens there, not on this machine's port 25).
export DEBIAN_FRONTEND=noninteractive
chroot "$root" sh -c 'apt-get update -q && apt-get install -y -q --download-only exim4-daemon-light '"$debname" \
	>"$work/download.log" 2>&1
ok $? "apt-get downloads exim4-daemon-light and what $(basename "$deb") depends on"
# The answers of the README's `dpkg-reconfigure exim4-config` ("internet
# site", the split configuration), given before the install: afterwards
# exim4-config takes its answers from update-exim4.conf.conf. Empty
# dc_local_interfaces: Exim listens on every address, as an internet
# site's relay must (Debian's default is loopback only).
printf '%s\n' \
	'exim4-config exim4/dc_eximconfig_configtype select internet site; mail is sent and received directly using SMTP' \
	'exim4-config exim4/use_split_config boolean true' \
	'exim4-config exim4/mailname string relay.example' \
	'exim4-config exim4/dc_other_hostnames string relay.example' \
	'exim4-config exim4/dc_local_interfaces string ' \
	'exim4-config exim4/dc_relay_domains string ' \
	'exim4-config exim4/dc_relay_nets string ' \
	'exim4-config exim4/dc_minimaldns boolean false' \
	'exim4-config exim4/dc_localdelivery select mbox format in /var/mail/' |
	in_root debconf-set-selections
in_root apt-get install -y -q exim4-daemon-light >"$work/exim-install.log" 2>&1
rc=$?
ok $rc "apt-get install exim4-daemon-light (internet site, split configuration)"
[ $rc -eq 0 ] || { show "$work/exim-install.log"; bail "exim4"; }
# No init system in the root: the package's invoke-rc.d starts nothing,
# so the admin starts Exim (a container's way)
in_root service exim4 start >"$work/exim-start.out" 2>&1
ok $? "service exim4 start"
show "$work/exim-start.out" 5
until_true 100 port25
ok $? "Exim answers on 192.0.2.25:25"
ue=$root/etc/exim4/update-exim4.conf.conf
grep -q "^dc_eximconfig_configtype='internet'$" "$ue" && grep -q "^dc_use_split_config='true'$" "$ue"
ok $? "update-exim4.conf.conf: dc_eximconfig_configtype='internet', dc_use_split_config='true'"
(cd "$root/etc/exim4" && find . -type f | sort | xargs md5sum) >"$work/exim4.before"
in_root sh -c "apt-get install -y -q $debname" >"$work/install.log" 2>&1
rc=$?
ok $rc "apt-get install ./$(basename "$deb")"
[ $rc -eq 0 ] || { show "$work/install.log"; bail "install"; }
(cd "$root/etc/exim4" && find . -type f | sort | xargs md5sum) >"$work/exim4.after"
cmp -s "$work/exim4.before" "$work/exim4.after"
ok $? "the install touched nothing in /etc/exim4"
in_root id -Gn mxport | grep -qw Debian-exim
ok $? "user mxport is in group Debian-exim (the sockets' group)"
running
! grep -q mxport "$work/running"
ok $? "nothing of mxport runs after the install"
test ! -e "$root/etc/default/mxport-lmtp"
ok $? "no /etc/default/mxport-lmtp yet"

# --- 3. the README's steps --------------------------------------------------
start_customer "$work/peer"
fport=$port
fpid=$peer_pid
# The second customer's server is down: a port kept free (a server that
# starts there later is the customer back).
start_customer "$work/peer2"
dport=$port
kill "$peer_pid"
wait "$peer_pid" 2>/dev/null
peer_pid=$fpid
cat >>"$root/etc/mxport/routes" <<EOF
fwd.example     [127.0.0.1]:$fport
down.example    [127.0.0.1]:$dport
EOF
# the customers' servers are on this relay's loopback in the test
echo 'allowed_networks = 127.0.0.0/8' >>"$root/etc/mxport/mxport.conf"
# No syslog daemon on Debian 12: mxport's lines go to log_file, a file of
# the mxport user's (contrib/exim/README.md, section 4)
in_root install -o mxport -g adm -m 0640 /dev/null /var/log/mxport.log
echo 'log_file = /var/log/mxport.log' >>"$root/etc/mxport/mxport.conf"
in_root mxport-route -n >"$work/check.out" 2>&1
ok $? "mxport-route -n with two routes and log_file"
show "$work/check.out" 5

in_root mxport-setup exim --dry-run >"$work/dry.out" 2>&1
ok $? "mxport-setup exim --dry-run"
grep -q "^cat >'*/etc/default/mxport-lmtp" "$work/dry.out" &&
	[ ! -e "$root/etc/default/mxport-lmtp" ] && [ -z "$(ls "$root"/etc/exim4/conf.d/*/*mxport* 2>/dev/null)" ]
ok $? "--dry-run names /etc/default/mxport-lmtp and writes nothing"
in_root mxport-setup exim >"$work/setup.out" 2>&1
rc=$?
ok $rc "mxport-setup exim"
show "$work/setup.out" 20
args=$(in_root sh -c '. /etc/default/mxport-lmtp && echo "$ARGS"')
[ "$args" = "-c /etc/mxport/mxport.conf -L unix:/run/mxport/lmtp.sock" ]
ok $? "mxport-setup exim wrote /etc/default/mxport-lmtp: the socket in /run/mxport ($args)"
grep -q '^MXPORT_LMTP_SOCKET = /run/mxport/lmtp\.sock$' "$root/etc/exim4/conf.d/main/00_mxport_macros"
ok $? "... where Exim's mxport_lmtp transport connects"
in_root mxport-setup exim >"$work/setup2.out" 2>&1
grep -q 'nothing changed' "$work/setup2.out"
ok $? "a second mxport-setup exim changes nothing"
in_root mxport-route -n >"$work/check2.out" 2>&1
ok $? "mxport-route -n after mxport-setup exim"

in_root sh -c 'update-rc.d mxport-milter enable && service mxport-milter start' >"$work/milter-start.out" 2>&1
ok $? "update-rc.d mxport-milter enable && service mxport-milter start"
show "$work/milter-start.out" 10
in_root sh -c 'update-rc.d mxport-lmtp enable && service mxport-lmtp start' >"$work/lmtp-start.out" 2>&1
ok $? "update-rc.d mxport-lmtp enable && service mxport-lmtp start"
show "$work/lmtp-start.out" 10
in_root service mxport-lmtp status >/dev/null 2>&1
ok $? "service mxport-lmtp status: running"
# (stat in the root: its group names, not this machine's)
sock=$(in_root stat -c %F:%G:%a /run/mxport/lmtp.sock 2>&1)
[ "$sock" = "socket:Debian-exim:660" ]
ok $? "the LMTP daemon's socket: /run/mxport/lmtp.sock, group Debian-exim, mode 0660 ($sock)"
sock=$(in_root stat -c %F:%G:%a /run/mxport/socketmap.sock 2>&1)
[ "$sock" = "socket:Debian-exim:660" ]
ok $? "the socketmap's socket: group Debian-exim, mode 0660 ($sock)"
in_root service exim4 reload >"$work/exim-reload.out" 2>&1
ok $? "service exim4 reload"
show "$work/exim-reload.out" 5
until_true 100 port25
in_root exim4 -bt bob@fwd.example >"$work/bt.out" 2>&1
grep -q 'router = mxport, transport = mxport_lmtp' "$work/bt.out"
ok $? "exim -bt bob@fwd.example: router mxport, transport mxport_lmtp"

# --- 4. mail from outside ----------------------------------------------------
mainlog=$root/var/log/exim4/mainlog
send bob@fwd.example >"$work/send1.out" 2>&1
ok $? "from 198.51.100.7: bob@fwd.example accepted"
show "$work/send1.out" 5
until_true 300 test -f "$work/peer/msg.1"
grep -q 'Hello from the test' "$work/peer/msg.1" 2>/dev/null && grep -q 'RCPT TO:<bob@fwd.example>' "$work/peer/env.1"
ok $? "the message arrived at the customer's server (127.0.0.1:$fport) with its recipient"
! grep -qi '^X-Mxport-Client:' "$work/peer/msg.1" 2>/dev/null
ok $? "... without the X-Mxport-Client field (the LMTP daemon took it)"
id1=$(sed -n 's/^[0-9-]* [0-9:]* \([0-9A-Za-z]\{6\}-[0-9A-Za-z]\{6,11\}-[0-9A-Za-z]\{2,4\}\) <= alice@sender\.example .*\[198\.51\.100\.7\].*/\1/p' "$mainlog" | head -1)
[ -n "$id1" ] && until_true 100 grep -Eq "$id1 => .*bob@fwd\.example.* R=mxport T=mxport_lmtp" "$mainlog"
ok $? "Exim's mainlog: ${id1:-(no <= line)} => bob@fwd.example R=mxport T=mxport_lmtp"
[ -n "$id1" ] && until_true 50 grep -Eq "$id1: to=<bob@fwd\.example>, relay=.*:$fport, .*status=sent" "$root/var/log/mxport.log"
ok $? "mxport's log line carries Exim's message id ($id1)"
grep "to=<bob@fwd" "$root/var/log/mxport.log" | sed 's/^/#   /'
[ -f "$work/peer/msg.1" ] || show "$mainlog" 20

send carol@unknown.example >"$work/send2.out" 2>&1
grep -Eq '^RCPT <?carol@unknown.example>? 5[0-9][0-9] ' "$work/send2.out"
ok $? "from 198.51.100.7: carol@unknown.example (not forwarded) refused with 5xx ($(grep '^RCPT' "$work/send2.out"))"

send dave@down.example >"$work/send3.out" 2>&1
ok $? "from 198.51.100.7: dave@down.example accepted (its server is down)"
# queued RCPT - exim -bp lists a message for RCPT
queued() {
	in_root exim4 -bp >"$work/bp.out" 2>&1 && grep -q "$1" "$work/bp.out"
}
not_queued() { ! queued "$1"; }
# mails N - /var/mail/carol holds at least N messages
mails() {
	[ "$(grep -c '^From ' "$root/var/mail/carol" 2>/dev/null)" -ge "$1" ]
}
# no_mxport - no process of mxport's runs in the root
no_mxport() {
	running
	! grep -q mxport "$work/running"
}
until_true 300 grep -Eq '== .*dave@down\.example.* R=mxport T=mxport_lmtp defer' "$mainlog"
ok $? "Exim deferred it (its mainlog: == dave@down.example R=mxport T=mxport_lmtp defer)"
queued dave@down.example
ok $? "it waits in Exim's queue (exim -bp)"
show "$work/bp.out" 5
start_customer "$work/peer2" "$dport"
dpid=$peer_pid
peer_pid=$fpid
in_root exim4 -R down.example >"$work/R.out" 2>&1
ok $? "the customer's server is back: exim -R down.example"
until_true 300 test -f "$work/peer2/msg.1"
grep -q 'RCPT TO:<dave@down.example>' "$work/peer2/env.1" 2>/dev/null
ok $? "... delivers the waiting message to it"
until_true 100 not_queued dave@down.example
ok $? "... and Exim's queue no longer holds it"
kill "$dpid" 2>/dev/null

# The relay's own mail does not depend on mxport's daemons.
in_root useradd -m carol
in_root service mxport-lmtp stop >/dev/null 2>&1
in_root service mxport-milter stop >/dev/null 2>&1
running
! grep -q -e mxport-milter -e mxport-transport "$work/running"
ok $? "mxport's daemons stopped (service ... stop)"
send carol@relay.example >"$work/send4.out" 2>&1
ok $? "daemons stopped: from 198.51.100.7, carol@relay.example (a local user) accepted"
show "$work/send4.out" 3
printf 'Subject: local\n\nSent by cron.\n' | in_root /usr/sbin/sendmail carol
ok $? "daemons stopped: sendmail carol (local submission)"
until_true 300 mails 2
ok $? "... both delivered to /var/mail/carol"
send erin@fwd.example >"$work/send5.out" 2>&1
grep -Eq '^RCPT <?erin@fwd.example>? 4[0-9][0-9] ' "$work/send5.out"
ok $? "daemons stopped: a forwarded domain from outside gets 4xx, never 5xx ($(grep '^RCPT' "$work/send5.out"))"
panic=$root/var/log/exim4/paniclog
[ ! -s "$panic" ]
ok $? "Exim's paniclog is empty"
[ -s "$panic" ] && show "$panic" 10

# --- 5. undo, purge, what remains -------------------------------------------
in_root service mxport-milter start >/dev/null 2>&1
in_root service mxport-lmtp start >/dev/null 2>&1
in_root mxport-setup exim --undo >"$work/undo.out" 2>&1
ok $? "mxport-setup exim --undo"
show "$work/undo.out" 10
test ! -e "$root/etc/default/mxport-lmtp"
ok $? "--undo removed /etc/default/mxport-lmtp"
(cd "$root/etc/exim4" && find . -type f | sort | xargs md5sum) >"$work/exim4.undone"
cmp -s "$work/exim4.before" "$work/exim4.undone"
ok $? "--undo: /etc/exim4 as before mxport-setup"
diff "$work/exim4.before" "$work/exim4.undone" | sed 's/^/#   /'
in_root service exim4 reload >/dev/null 2>&1
ok $? "service exim4 reload"
in_root apt-get purge -y -q mxport >"$work/purge.out" 2>&1
ok $? "apt-get purge mxport (its daemons running)"
show "$work/purge.out" 5
until_true 10 no_mxport
ok $? "purge stopped the daemons itself: no mxport process left"
grep mxport "$work/running" | sed 's/^/#   running: /'
! in_root getent passwd mxport >/dev/null && ! in_root getent group mxport >/dev/null
ok $? "purge removed user and group mxport"
! in_root getent group Debian-exim | grep -q mxport
ok $? "mxport is not in group Debian-exim"
left=
for d in /etc/mxport /var/lib/mxport /run/mxport /etc/default/mxport-lmtp /etc/init.d/mxport-milter \
	/etc/init.d/mxport-lmtp /lib/systemd/system/mxport-lmtp.service /usr/sbin/mxport-milter \
	/usr/libexec/mxport-transport /usr/share/mxport /etc/exim4/mxport-setup.state; do
	[ -e "$root$d" ] && left="$left $d"
done
find "$root/etc" "$root/usr" "$root/var/lib" "$root/run" -name '*mxport*' >"$work/left" 2>/dev/null
[ -z "$left" ] && [ ! -s "$work/left" ]
ok $? "nothing of mxport left in /etc, /usr, /var/lib, /run${left:+ (left:$left)}"
sed "s|^$root|#   left: |" "$work/left"
send carol@relay.example >"$work/send6.out" 2>&1
until_true 300 mails 3
ok $? "after the purge Exim still delivers its own mail (carol@relay.example)"
send frank@fwd.example >"$work/send7.out" 2>&1
grep -Eq '^RCPT <?frank@fwd.example>? 550 ' "$work/send7.out"
ok $? "... and refuses the formerly forwarded domain with 550 ($(grep '^RCPT' "$work/send7.out"))"
[ ! -s "$panic" ]
ok $? "Exim's paniclog is still empty"
[ -s "$panic" ] && show "$panic" 10
echo "# test_deb_exim: $(($(date +%s) - t0)) s"

echo "1..$n"
[ "$failed" -eq 0 ]
