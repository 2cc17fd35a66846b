# streamd's life cycle: imports the config at start, again on SIGHUP
# (keeping API writes, as amps init does), survives a bad config on
# reload, and exits 0 on SIGTERM.
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

STREAMD=$top_builddir/streamd/streamd
[ -x "$STREAMD" ] || fail "$STREAMD is not built"

cd "$TMPDIR_TEST" || fail "no scratch folder"
cat > amps.conf <<'CONF'
server = { database = "amps.db"; media_root = "media"; };
streams = ( { id = 1; name = "One"; source = "/x.ts"; ffmpeg_profile = "copy"; } );
CONF

"$STREAMD" -c amps.conf 2>streamd.log &
pid=$!
# wait_log PATTERN: waits up to 10 s for a line in streamd.log.
wait_log()
{
	i=0
	while ! grep -Eq -- "$1" streamd.log; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { kill "$pid" 2>/dev/null; fail "no /$1/ in log: $(cat streamd.log)"; }
		sleep 0.1
	done
}
wait_log 'streamd 0\.1\.0 started'
assert_match "first import" '1 added' "$(cat streamd.log)"
assert_eq "channel imported" "One" "$(sqlite3 amps.db 'SELECT name FROM channels WHERE id = 1')"

note "SIGHUP imports the changed file"
sed -i 's/"One"/"Uno"/' amps.conf
kill -HUP "$pid"
wait_log '1 updated'
assert_eq "renamed" "Uno" "$(sqlite3 amps.db 'SELECT name FROM channels WHERE id = 1')"

note "a broken config on reload is logged; the store stays"
before=$(sqlite3 amps.db .dump | sha256sum)
echo 'streams = ( { id = "x"; } );' > amps.conf
kill -HUP "$pid"
wait_log 'amps.conf:1: streams\[0\]\.id: expected an integer'
kill -0 "$pid" || fail "streamd died on a bad config"
assert_eq "store unchanged" "$before" "$(sqlite3 amps.db .dump | sha256sum)"

note "SIGTERM: clean exit 0"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "exit status" 0 "$rc"
assert_match "stopping logged" 'info main: stopping' "$(cat streamd.log)"

note "a config that does not load at start: exit 1, nothing created"
rm -f amps.db
echo 'streams = ( { id = "x"; } );' > amps.conf
rc=0
"$STREAMD" -c amps.conf 2>start.log || rc=$?
assert_eq "start with bad config" 1 "$rc"
[ ! -e amps.db ] || fail "amps.db created from a bad config"
echo "streamd: ok"
