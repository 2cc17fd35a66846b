# Integration test of the embedded default: amps serve runs the real
# lighttpd with the config it makes from the shipped template
# (lighttpd/amps.conf.in) on a free loopback port, lighttpd spawns
# amps.fcgi, and serve runs streamd; the checks of http-checks.sh then go
# through it.  Also: a second amps serve on the same config says that one
# is already running and exits 1; SIGTERM (and SIGINT) to serve leave no
# lighttpd, amps.fcgi or streamd behind; serve starts again on the same
# files; when lighttpd dies, serve stops the rest and exits non-zero; a
# broken config is one line and exit 2; a port in use is refused.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/integration/http-checks.sh
. "$AMPS_TEST_SRCDIR/integration/http-checks.sh"

LIGHTTPD=$(command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd)
[ -x "$LIGHTTPD" ] || skip "lighttpd is not installed (tools/install-deps installs it)"
for prog in curl xmllint tv_validate_file pgrep; do
	command -v "$prog" >/dev/null 2>&1 ||
	    fail "$prog is missing (tools/install-deps installs it)"
done
[ -r "$HC_DTD" ] || fail "$HC_DTD is missing (tools/install-deps installs xmltv-util)"
[ -x "$top_builddir/cgi/amps.fcgi" ] || fail "amps.fcgi is not built"
[ -x "$top_builddir/streamd/streamd" ] || fail "streamd is not built"

# The template of this tree, not one that make install put elsewhere.
AMPS_DATADIR=$top_srcdir
export AMPS_DATADIR

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"
PORT=$(hc_free_port)
BASE=http://127.0.0.1:$PORT
hc_setup "$T" "$PORT"

SERVE_PID=
# Whatever happens, no server is left running.
stop_serve()
{
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -TERM "$SERVE_PID"
		wait "$SERVE_PID"
	fi
	SERVE_PID=
}
trap 'hc_rc=$?; stop_serve; (exit $hc_rc); cleanup' EXIT

# start_serve NAME: amps serve in the background, output in NAME.out and
# NAME.err; returns once it says where it serves.
start_serve()
{
	"$AMPS" -c "$HC_CONF" serve >"$1.out" 2>"$1.err" &
	SERVE_PID=$!
	n=0
	until grep -q '^amps: serving ' "$1.out" 2>/dev/null; do
		kill -0 "$SERVE_PID" 2>/dev/null ||
		    fail "amps serve exited: $(cat "$1.out" "$1.err")"
		n=$((n + 1))
		[ "$n" -lt 300 ] ||
		    fail "amps serve does not serve after 30 s: $(cat "$1.out" "$1.err")"
		sleep 0.1
	done
	assert_match "serve says where" "^amps: serving $BASE/ " "$(cat "$1.out")"
	LIGHTTPD_PID=$(pgrep -P "$SERVE_PID" -x lighttpd)
	STREAMD_PID=$(pgrep -P "$SERVE_PID" -x streamd)
	[ -n "$LIGHTTPD_PID" ] || fail "no lighttpd under serve"
	[ -n "$STREAMD_PID" ] || fail "no streamd under serve"
	# lighttpd spawns amps.fcgi (bin-path) when it starts.
	n=0
	until FCGI_PID=$(pgrep -P "$LIGHTTPD_PID" -x amps.fcgi); do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "no amps.fcgi under lighttpd"
		sleep 0.1
	done
}

# wait_serve WHAT: waits up to 10 s for serve to end; sets SERVE_RC.
wait_serve()
{
	n=0
	while kill -0 "$SERVE_PID" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "$1: amps serve still runs after 10 s"
		sleep 0.1
	done
	SERVE_RC=0
	wait "$SERVE_PID" || SERVE_RC=$?
	SERVE_PID=
}

# gone WHAT: none of the stack's processes is left (not even a zombie:
# kill -0 succeeds on one), and the port is closed.
gone()
{
	for pid in "$LIGHTTPD_PID" "$FCGI_PID" "$STREAMD_PID"; do
		if kill -0 "$pid" 2>/dev/null; then
			fail "$1: process $pid is left: $(ps -o pid,stat,args -p "$pid" | tail -n 1)"
		fi
	done
	if pgrep -f "$T/var/run/lighttpd.conf" >/dev/null; then
		fail "$1: a lighttpd on this test's config is left"
	fi
	rc=0
	curl -s -o /dev/null --max-time 5 "$BASE/api/health" || rc=$?
	assert_eq "$1: the port is closed (curl exit status)" 7 "$rc"
}

note "a broken config: one line, exit 2, nothing started"
printf 'server = { listen = "nowhere"; };\n' >bad.conf
run_amps -c bad.conf serve
expect_rc "serve with a broken config" 2
assert_match "the error line" '^.*bad\.conf:1: server\.listen: ' "$ERR"
assert_eq "one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"

note "amps serve on $BASE"
start_serve serve1
assert_match "the import" '^amps: .*/var/amps\.db: [0-9]+ added' \
    "$(cat serve1.out)"
GEN=$T/var/run/lighttpd.conf
[ -f "$GEN" ] || fail "no generated config at $GEN"
assert_no_match "no placeholder left" '@[A-Z_]+@' "$(cat "$GEN")"
assert_match "the port" "^server\.port = $PORT\$" "$(cat "$GEN")"
"$LIGHTTPD" -tt -f "$GEN" >lighttpd-tt.out 2>&1 ||
    fail "lighttpd -tt rejects the generated config: $(cat lighttpd-tt.out)"

note "a second amps serve on the same config"
run_amps -c "$HC_CONF" serve
expect_rc "second serve" 1
assert_eq "second serve says so" "amps: already running (pid $SERVE_PID)" "$ERR"
kill -0 "$LIGHTTPD_PID" || fail "the second serve disturbed the first"
note "another amps serve (another database) on the same port"
sed -e 's|"var/amps.db"|"other/amps.db"|' -e 's|var/media|other/media|' \
    "$HC_CONF" >other.conf
run_amps -c other.conf serve
expect_rc "serve on a port in use" 1
assert_match "it says so" "^amps: something already listens on $BASE/" "$ERR"
kill -0 "$LIGHTTPD_PID" || fail "the other serve disturbed the first"

hc_run "$BASE"

note "SIGTERM stops everything"
kill -TERM "$SERVE_PID"
wait_serve "SIGTERM"
assert_eq "exit status after SIGTERM" 0 "$SERVE_RC"
gone "after SIGTERM"
[ -z "$(ls var/run | grep sock)" ] || fail "a socket is left in var/run: $(ls var/run)"

note "serve starts again on the same files; SIGINT stops it"
start_serve serve2
hc_req GET /api/health
hc_expect "health after a restart" 200
kill -INT "$SERVE_PID"
wait_serve "SIGINT"
assert_eq "exit status after SIGINT" 0 "$SERVE_RC"
gone "after SIGINT"

note "lighttpd dies: serve stops streamd and amps.fcgi and fails"
start_serve serve3
kill -KILL "$LIGHTTPD_PID"
wait_serve "lighttpd killed"
[ "$SERVE_RC" -ne 0 ] || fail "serve exits 0 when lighttpd died"
assert_match "serve says why" "lighttpd \\(pid $LIGHTTPD_PID\\) was killed by signal 9" \
    "$(cat serve3.err)"
gone "after lighttpd died"

echo "lighttpd: ok"
