#!/bin/sh
# test_tables_index - the secrets file and the notify map indexed as the
# routes file is (mxport-route --index, lib/cdb_table.c), at a million
# entries each: the right answer (the credentials the customer's server
# wants, the contact of the domain), and a peak resident memory within 10
# MB of the same with 10 entries, for a pipe-mode delivery (which reads
# both) and for mxport-route. Then, on small files: the secret index's mode
# and owner are the secrets file's (its group's access dropped when it
# cannot have the file's group); an index others may read is refused; a
# stale index is ignored and the text read; a broken edit leaves the old
# index byte for byte.
. "$MXPORT_SRCDIR/tests/lib/harness.sh"
need awk cmp stat python3 openssl setpriv /usr/bin/time

ROUTE="$MXPORT_BUILDDIR/mxport-route"
N=1000000
make_certs
C="$T_DIR/certs"
start_peer auth "{\"tls\": {\"cert\": \"$C/good.pem\", \"key\": \"$C/good.key\"}, \"auth\": {\"user\": \"tuser\", \"pass\": \"t pass\"}}"
. "$MXPORT_SRCDIR/tests/lib/transport.sh"

# tables NAME COUNT - COUNT customers in $T_DIR/NAME.secrets ("custN.example uN pN",
# private to nobody) and $T_DIR/NAME.notify ("custN.example opsN@contact.test"),
# target.example last in both, and $T_DIR/NAME.conf naming them
tables() {
	awk -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "cust%d.example u%d p%d\n", i, i, i
		printf "target.example tuser t pass\n"
	}' >"$T_DIR/$1.secrets"
	chown nobody "$T_DIR/$1.secrets"
	chmod 600 "$T_DIR/$1.secrets"
	awk -v n="$2" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "cust%d.example ops%d@contact.test\n", i, i
		printf "target.example noc@contact.test\n"
	}' >"$T_DIR/$1.notify"
	chmod 644 "$T_DIR/$1.notify"
	CONF_DEFAULTS="allowed_networks = 127.0.0.0/8
dns_servers = 127.0.0.1:9
connect_timeout = 5s
tls_ca_file = $C/ca.pem
state_directory = $T_DIR/state
secrets_file = $T_DIR/$1.secrets
notify_map = $T_DIR/$1.notify"
	conf "$1" "target.example [127.0.0.1]:$PEER_PORT"
}

# peak NAME CMD... - run CMD under GNU time: RC, the output in $T_DIR/out, PEAK_KB
peak() {
	name=$1
	shift
	/usr/bin/time -f "%M" -o "$T_DIR/$name.rss" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	PEAK_KB=$(tail -1 "$T_DIR/$name.rss")
}

# deliver NAME - one pipe-mode delivery to target.example, as pipe(8) runs it
deliver() {
	peak "$1" setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$TRANSPORT" -c "$T_DIR/$1.conf" -q Q1 -f a@sender.test -- b@target.example <"$T_DIR/msg"
}

printf 'Subject: t\r\n\r\nbody\r\n' >"$T_DIR/msg"
mkdir -p "$T_DIR/state"
chown nobody "$T_DIR/state"
tables small 10
tables big $N
"$ROUTE" -c "$T_DIR/small.conf" --index >"$T_DIR/out" 2>&1
t_eq "$?" 0 "10 entries: --index"

# --- the million -------------------------------------------------------------------
start=$(date +%s)
peak build "$ROUTE" -c "$T_DIR/big.conf" --index
t_eq "$RC" 0 "--index: a million secrets and a million contacts are indexed"
t_grep "$T_DIR/out" "^$T_DIR/big.secrets.cdb: $((N + 1)) secret\(s\) from $T_DIR/big.secrets$" "--index: says the secrets index and its count"
t_grep "$T_DIR/out" "^$T_DIR/big.notify.cdb: $((N + 1)) contact\(s\) from $T_DIR/big.notify$" "--index: says the notify map index and its count"
echo "# --index (1 route, $N secrets, $N contacts): $(($(date +%s) - start)) s, peak $PEAK_KB KB"
bound_kb=200000
grep -q -- '-fsanitize=address' "$MXPORT_BUILDDIR/Makefile" 2>/dev/null && bound_kb=800000
[ "$PEAK_KB" -lt "$bound_kb" ]
t_ok $? "--index: built in less than $((bound_kb / 1000)) MB (peak $PEAK_KB KB)"

deliver small
t_eq "$RC" 0 "pipe, 10 entries: delivered with the credentials of target.example"
SMALL_KB=$PEAK_KB
sessions=$(ls "$PEER_DIR" | grep -c '^session\.')
deliver big
t_eq "$RC" 0 "pipe, a million secrets: delivered"
t_grep "$PEER_DIR/session.$((sessions + 1))" '^AUTH PLAIN ' "pipe, a million secrets: AUTH sent (the peer takes only target.example's password)"
t_nogrep "$LOG" "secrets index|notify map index" "pipe, a million entries: the indexes are used, nothing said"
echo "# pipe delivery peak: 10 entries $SMALL_KB KB, a million secrets and contacts with the indexes $PEAK_KB KB"
[ "$PEAK_KB" -le $((SMALL_KB + 10240)) ]
t_ok $? "pipe, a million secrets and contacts: within 10 MB of the 10-entry delivery ($PEAK_KB KB vs $SMALL_KB KB)"

peak rsmall "$ROUTE" -c "$T_DIR/small.conf" target.example
t_grep "$T_DIR/out" "notify: noc@contact\.test" "mxport-route, 10 contacts: the contact of target.example"
SMALL_KB=$PEAK_KB
peak rbig "$ROUTE" -c "$T_DIR/big.conf" target.example cust999999.example
t_grep "$T_DIR/out" "notify: noc@contact\.test" "mxport-route, a million contacts: the contact of target.example"
t_nogrep "$T_DIR/err" "notify map index" "mxport-route, a million contacts: the index is used, nothing said"
echo "# mxport-route peak: 10 contacts $SMALL_KB KB, a million with the index $PEAK_KB KB"
[ "$PEAK_KB" -le $((SMALL_KB + 10240)) ]
t_ok $? "mxport-route, a million contacts: within 10 MB of the 10-contact one ($PEAK_KB KB vs $SMALL_KB KB)"
"$ROUTE" -c "$T_DIR/big.conf" -n >"$T_DIR/out" 2>&1
t_grep "$T_DIR/out" "^$T_DIR/big.secrets.cdb: secrets index fresh, $((N + 1)) secret\(s\)$" "-n: the secrets index is fresh"
t_grep "$T_DIR/out" "^$T_DIR/big.notify.cdb: notify map index fresh, $((N + 1)) contact\(s\)$" "-n: the notify map index is fresh"
rm -f "$T_DIR"/big.*

# --- the secret index's mode, and the index and the text, on the small files -------
S="$T_DIR/small.secrets"
t_eq "$(stat -c '%a %U %G' "$S.cdb")" "$(stat -c '%a %U %G' "$S")" "the secrets index: the secrets file's mode and owner"
case $(stat -c '%A' "$S.cdb") in ???????---) r=0 ;; *) r=1 ;; esac
t_ok $r "the secrets index: nothing for others ($(stat -c '%A' "$S.cdb"))"
chmod 640 "$S"
"$ROUTE" -c "$T_DIR/small.conf" --index >/dev/null 2>&1
t_eq "$(stat -c '%a' "$S.cdb")" 640 "the secrets index of a 0640 file: 0640"
chmod 600 "$S"
"$ROUTE" -c "$T_DIR/small.conf" --index >/dev/null 2>&1
# built by a user who cannot give the index the file's group: the group loses its access
mkdir "$T_DIR/own"
cp "$S" "$T_DIR/own/secrets"
chown -R nobody:root "$T_DIR/own"
chmod 640 "$T_DIR/own/secrets"
printf 'secrets_file = %s\n' "$T_DIR/own/secrets" >"$T_DIR/own.conf"
chmod 644 "$T_DIR/own.conf"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$(t_share "$ROUTE")" -c "$T_DIR/own.conf" --index >"$T_DIR/out" 2>&1
t_eq "$?" 0 "--index as the secrets file's owner, not root: indexed"
t_eq "$(stat -c '%a %U %G' "$T_DIR/own/secrets.cdb")" "600 nobody nogroup" "the secrets index in another group than the file's: 0600"

chmod 604 "$S.cdb"
deliver small
t_eq "$RC" 0 "secrets index others may read: still delivered (the text read)"
t_grep "$LOG" "secrets index $S.cdb: others have access \(mode 0604\); refusing to use it" "secrets index others may read: refused, and said"
chmod 600 "$S.cdb"

cp "$S.cdb" "$T_DIR/good.cdb"
cp "$T_DIR/small.notify.cdb" "$T_DIR/good.notify.cdb"
echo "new.example unew pnew" >>"$S"
echo "new.example ops@new.test" >>"$T_DIR/small.notify"
: >"$LOG"
deliver small
t_eq "$RC" 0 "stale indexes: still delivered (the texts read)"
t_grep "$LOG" "secrets index $S.cdb: older than the secrets file.*run mxport-route --index" "stale secrets index: ignored, and said"
t_grep "$LOG" "notify map index $T_DIR/small.notify.cdb: older than the notify map" "stale notify map index: ignored, and said"
"$ROUTE" -c "$T_DIR/small.conf" --index >/dev/null 2>&1
cp "$S.cdb" "$T_DIR/good.cdb"
cp "$T_DIR/small.notify.cdb" "$T_DIR/good.notify.cdb"

echo "broken.example useronly" >>"$S"
echo "broken.example not-an-address" >>"$T_DIR/small.notify"
"$ROUTE" -c "$T_DIR/small.conf" --index >"$T_DIR/out" 2>&1
t_eq "$?" 78 "broken edits: --index exits 78"
t_grep "$T_DIR/out" "secrets_file $S:13: expected 'key" "broken secrets file: the file and line of the error"
t_grep "$T_DIR/out" "$T_DIR/small.notify:13: notify=not-an-address: not an address" "broken notify map: the file and line of the error"
t_grep "$T_DIR/out" "$S.cdb is unchanged" "broken secrets file: says the index stays"
t_grep "$T_DIR/out" "^$T_DIR/small.routes.cdb: 1 route\(s\)" "broken edits: the routes file is indexed all the same"
cmp -s "$T_DIR/good.cdb" "$S.cdb"
t_ok $? "broken secrets file: the index is the old one, byte for byte"
cmp -s "$T_DIR/good.notify.cdb" "$T_DIR/small.notify.cdb"
t_ok $? "broken notify map: the index is the old one, byte for byte"
[ "$(ls "$T_DIR" | grep -c '\.cdb\.')" -eq 0 ]
t_ok $? "broken edits: no temporary file left"
deliver small
t_eq "$RC" 75 "broken edits, no configuration in force (pipe): deferred, not sent without AUTH"
t_grep "$LOG" "small.notify:13: notify=not-an-address" "broken edits: the delivery names file and line"

t_done
