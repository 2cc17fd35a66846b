# One FastCGI process (amps.fcgi --socket S) serving 990 mixed requests
# sent with cgi-fcgi: health, playlists with filters and gzip, guides,
# API reads, writes (POST, PATCH, PUT programmes, DELETE) and refusals
# (400, 401, 403, 404, 413), a 304, recordings, guide sources and a
# guide refresh.  Run twice:
#   1. under valgrind: no definite or indirect leak, no error, and a clean
#      exit on SIGTERM (in an ASan build, which valgrind cannot run, under
#      LeakSanitizer instead);
#   2. natively: VmRSS after 990 requests at most RSS_BOUND_KIB above
#      VmRSS after 210 (no growth; not measured in an ASan build, whose
#      quarantine grows by design), the request counters of /metrics, and
#      a clean exit on SIGTERM.
# Every answer's status is checked, so a process that stopped serving
# cannot pass.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"
ASAN=0
if grep -q __asan_init "$FCGI"; then
	ASAN=1
fi
if [ "$ASAN" -eq 0 ]; then
	command -v valgrind >/dev/null 2>&1 ||
	    skip "valgrind is not installed (tools/install-deps installs it)"
fi
command -v cgi-fcgi >/dev/null 2>&1 ||
    skip "cgi-fcgi is not installed (libfcgi-bin; tools/install-deps)"

# A libtool wrapper script would put valgrind on the shell.
RUNNER=
if [ "$(head -c 2 "$FCGI")" = "#!" ]; then
	RUNNER="$top_builddir/libtool --mode=execute"
fi

# Whole rounds of the mix (30 kinds), so that no run stops between a
# POST and its DELETE.
REQUESTS=${AMPS_LEAK_REQUESTS:-990}
WARMUP=210
RSS_BOUND_KIB=512

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"
copy_file "$AMPS_TEST_SRCDIR/blackbox/fixtures/api.conf" amps.conf
CONF=$T/amps.conf
# A guide source for the refreshes of the mix (libxml2, the parser's
# thread and the store, 40 times).
python3 "$AMPS_TEST_SRCDIR/blackbox/xmltvgen.py" guide --channels 5 \
    --programmes 20 -o guide.xml || fail "xmltvgen.py"
printf 'epg_sources = ( { name = "local"; path = "guide.xml"; } );\n' \
    >>amps.conf
run_amps -c "$CONF" init
expect_rc "init" 0

# A unix socket path is limited to about 100 bytes.
SOCKDIR=$T
if [ ${#T} -gt 80 ]; then
	SOCKDIR=$(mktemp -d "${TMPDIR:-/tmp}/amps-leak.XXXXXX") ||
	    fail "mktemp"
fi
PID=

stop_server()
{
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -KILL "$PID" 2>/dev/null
	fi
	if [ "$SOCKDIR" != "$T" ]; then
		rm -rf "$SOCKDIR"
	fi
}
trap 'rc=$?; stop_server; (exit $rc); cleanup' EXIT

# start SOCKET [WRAPPER...]: starts the responder on SOCKET in the
# background (PID) and waits for the socket.
start()
{
	s_sock=$1
	shift
	rm -f "$s_sock"
	# shellcheck disable=SC2086 # RUNNER is words
	env -i PATH="$PATH" AMPS_CONF="$CONF" $RUNNER "$@" "$FCGI" \
	    --socket "$s_sock" >server.out 2>server.err &
	PID=$!
	s_n=0
	while [ ! -S "$s_sock" ]; do
		kill -0 "$PID" 2>/dev/null ||
		    fail "amps.fcgi --socket exited: $(tail -n 20 server.err)"
		s_n=$((s_n + 1))
		[ "$s_n" -lt 600 ] ||
		    fail "no socket $s_sock after 60 s: $(tail -n 20 server.err)"
		sleep 0.1
	done
}

# stop WHAT: SIGTERM, then the process must exit by itself within 60 s;
# sets EXIT_STATUS.
stop()
{
	kill -TERM "$PID" || fail "$1: the responder is gone before SIGTERM"
	s_n=0
	while kill -0 "$PID" 2>/dev/null; do
		s_n=$((s_n + 1))
		if [ "$s_n" -ge 600 ]; then
			kill -KILL "$PID"
			wait "$PID" 2>/dev/null
			PID=
			fail "$1: the responder does not exit on SIGTERM"
		fi
		sleep 0.1
	done
	EXIT_STATUS=0
	wait "$PID" || EXIT_STATUS=$?
	PID=
}

TOKEN=shared-token-123
VIEWER=viewer-key-4567
ADMIN=admin-key-89ab
BIG=$(printf 'y%.0s' $(seq 1 3000))
ETAG=

# req METHOD URI BODY [NAME=VALUE...]: one request through cgi-fcgi;
# BODY is the JSON body or empty.  Sets CODE.
req()
{
	r_method=$1 r_uri=$2 r_body=$3
	shift 3
	r_query=
	case $r_uri in
	*\?*)	r_query=${r_uri#*\?} ;;
	esac
	if [ -n "$r_body" ]; then
		printf '%s' "$r_body" >req.json
		set -- "CONTENT_LENGTH=$(wc -c <req.json | tr -d ' ')" \
		    CONTENT_TYPE=application/json "$@"
	else
		: >req.json
	fi
	env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 SERVER_PORT=8080 \
	    REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1:8080 \
	    REQUEST_METHOD="$r_method" REQUEST_URI="$r_uri" \
	    QUERY_STRING="$r_query" "$@" \
	    cgi-fcgi -bind -connect "$SOCK" <req.json >resp.raw 2>resp.err
	CODE=$(head -n1 resp.raw | tr -d '\r' |
	    sed -n 's/^Status: \([0-9][0-9][0-9]\) .*/\1/p')
	SENT=$((SENT + 1))
}
SENT=0

# mixed N: request number N of the mix (30 kinds in turn), checked.
mixed()
{
	case $(($1 % 30)) in
	0)	want=200; req GET /api/health '' ;;
	1)	want=200; req GET "/playlist.m3u?token=$TOKEN" '' ;;
	2)	want=200; req GET \
		    "/playlist.m3u?token=$TOKEN&region=US&group=news,Sports" '' ;;
	3)	want=200; req GET "/playlist.m3u8?ids=1,3,11&variants=false" '' \
		    "HTTP_X_AMPS_TOKEN=$VIEWER" HTTP_CF_IPCOUNTRY=AU \
		    "HTTP_ACCEPT_ENCODING=gzip" ;;
	4)	want=200; req GET "/epg.xml?token=$TOKEN" '' ;;
	5)	want=200; req GET "/epg.xml?token=$TOKEN&group=news" '' \
		    "HTTP_ACCEPT_ENCODING=gzip" ;;
	6)	want=200; req GET "/api/epg?token=$TOKEN&region=GB" '' ;;
	7)	want=200; req GET /api/streams '' "HTTP_X_API_KEY=$VIEWER" ;;
	8)	want=200; req GET /api/streams/1 '' \
		    "HTTP_AUTHORIZATION=Bearer $VIEWER" ;;
	9)	want=201; req POST /api/streams \
		    '{"id":500,"name":"Leak","source":"/srv/l.ts","ffmpeg_profile":"copy","group":"Tmp","adaptive_bitrates":[{"name":"lo","label":"LO","ffmpeg_profile":"small"}]}' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	10)	want=200; req PATCH /api/streams/500 \
		    '{"group":"Tmp2","regions_blocked":["AU","NZ"]}' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	11)	want=200; req GET /api/streams/500 '' "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	12)	want=200; req PUT /api/streams/500/programs \
		    '[{"title":"A","start":"2030-01-01T00:00:00Z","end":"2030-01-01T01:00:00Z","description":"d"},{"title":"B"}]' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	13)	want=200; req GET "/api/streams/500/programs?token=$TOKEN" '' ;;
	14)	want=2xx; req DELETE /api/streams/500 '' "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	15)	want=404; req GET /api/streams/999 '' "HTTP_X_AMPS_TOKEN=$VIEWER" ;;
	16)	want=401; req GET /playlist.m3u '' ;;
	17)	want=403; req DELETE /api/streams/1 '' "HTTP_X_AMPS_TOKEN=$VIEWER" ;;
	18)	want=400; req POST /api/streams '{"id":501,"name":' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	19)	want=400; req POST /api/streams \
		    '{"id":501,"name":"X","source":"/s.ts","ffmpeg_profile":"nosuch","colour":1}' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	20)	want=413; req POST /api/streams "{\"description\":\"$BIG\"}" \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	21)	want=400; req GET "/playlist.m3u?token=$TOKEN&ids=abc&region=%zz" '' ;;
	22)	want=304; req GET "/playlist.m3u?token=$TOKEN" '' \
		    "HTTP_IF_NONE_MATCH=$ETAG" ;;
	23)	want=200; req GET "/metrics?token=$TOKEN" '' ;;
	24)	want=200; req GET "/api/status?token=$TOKEN" '' ;;
	25)	want=200; req GET /api/recordings '' "HTTP_X_API_KEY=$VIEWER" ;;
	26)	want=404; req POST /api/recordings/999/clip \
		    '{"start":1,"end":2}' "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	27)	want=400; req POST /api/streams/1/recordings/start \
		    '{"programme_id":"x","colour":1}' "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	28)	want=200; req GET "/api/epg/sources?token=$TOKEN" '' ;;
	29)	want=200; req POST /api/epg/sources/local/refresh '' \
		    "HTTP_X_AMPS_TOKEN=$ADMIN" ;;
	esac
	# The ETag moves with the clock's minute: a 200 with a new ETag
	# instead of the 304 is a roll-over, not an error.
	if [ "$want:$CODE" = 304:200 ] && ! sed '/^\r$/q' resp.raw |
	    tr -d '\r' | grep -iqF "ETag: $ETAG"; then
		CODE=304
	fi
	case $want:$CODE in
	2xx:200|2xx:204) ;;
	"$CODE:$CODE") ;;
	*)	fail "request $1: expected $want, got [$CODE]: $(head -c 600 resp.raw) $(cat resp.err)" ;;
	esac
}

# The ETag changes with every write; 22 follows 9-14 in each round, so
# fetch it just before.
refresh_etag()
{
	req GET "/playlist.m3u?token=$TOKEN" ''
	[ "$CODE" = 200 ] || fail "GET playlist for the ETag: [$CODE]"
	ETAG=$(sed '/^\r$/q' resp.raw | tr -d '\r' |
	    sed -n 's/^ETag: *//Ip' | head -n1)
	[ -n "$ETAG" ] || fail "no ETag on the playlist"
}

# run_mix FROM TO
run_mix()
{
	i=$1
	while [ "$i" -lt "$2" ]; do
		[ $((i % 30)) -eq 22 ] && refresh_etag
		mixed "$i"
		i=$((i + 1))
	done
}

rss_kib()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"
}

# ---------------------------------------------------------------------
if [ "$ASAN" -eq 0 ]; then
	note "1. under valgrind: $REQUESTS requests"
	SOCK=$SOCKDIR/vg.sock
	t0=$(date +%s)
	start "$SOCK" valgrind --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect \
	    --show-leak-kinds=definite,indirect --error-exitcode=99 \
	    --num-callers=40 --log-file="$T/valgrind.log"
	run_mix 0 "$REQUESTS"
	t1=$(date +%s)
	note "$REQUESTS requests under valgrind in $((t1 - t0)) s"
	stop "valgrind run"
	cat valgrind.log
	[ -s valgrind.log ] || fail "valgrind wrote no log"
	if grep -Eq 'definitely lost: [1-9]|indirectly lost: [1-9]' \
	    valgrind.log; then
		fail "valgrind found leaks (see valgrind.log above)"
	fi
	grep -q 'ERROR SUMMARY: 0 errors' valgrind.log ||
	    fail "valgrind found errors (see valgrind.log above)"
	grep -Eq 'All heap blocks were freed|definitely lost: 0 bytes' \
	    valgrind.log ||
	    fail "valgrind printed no leak summary: did the process exit?"
	assert_eq "exit status under valgrind after SIGTERM" 0 "$EXIT_STATUS"
else
	note "1. an ASan build: $REQUESTS requests under LeakSanitizer"
	SOCK=$SOCKDIR/asan.sock
	start "$SOCK" env \
	    ASAN_OPTIONS=detect_leaks=1:log_path="$T/asan":exitcode=99 \
	    LSAN_OPTIONS=exitcode=99
	run_mix 0 "$REQUESTS"
	stop "ASan run"
	for f in asan.*; do
		[ -e "$f" ] || continue
		cat "$f"
		fail "ASan or LeakSanitizer reported errors (see $f above)"
	done
	assert_eq "exit status under ASan after SIGTERM" 0 "$EXIT_STATUS"
fi

# ---------------------------------------------------------------------
note "2. natively: VmRSS after $WARMUP and after $REQUESTS requests"
# ---------------------------------------------------------------------
SOCK=$SOCKDIR/rss.sock
start "$SOCK"
SENT=0
run_mix 0 "$WARMUP"
rss1=$(rss_kib)
run_mix "$WARMUP" "$REQUESTS"
rss2=$(rss_kib)
if [ -z "$rss1" ] || [ -z "$rss2" ]; then
	fail "no VmRSS for $PID"
fi
note "VmRSS: $rss1 KiB after $WARMUP, $rss2 KiB after $REQUESTS"
served=$SENT
req GET "/metrics?token=$TOKEN" ''
[ "$CODE" = 200 ] || fail "GET /metrics: [$CODE]"
sed '1,/^\r$/d' resp.raw | tr -d '\r' >metrics.txt
stop "native run"
assert_eq "exit status after SIGTERM" 0 "$EXIT_STATUS"
[ ! -S "$SOCK" ] || note "the socket $SOCK is left behind after SIGTERM"
if [ "$ASAN" -eq 0 ]; then
	[ $((rss2 - rss1)) -le "$RSS_BOUND_KIB" ] ||
	    fail "VmRSS grew by $((rss2 - rss1)) KiB over $((REQUESTS - WARMUP)) requests (bound $RSS_BOUND_KIB KiB)"
else
	note "an ASan build: VmRSS growth not checked"
fi

note "the process counted every request it served, by route and status"
cat metrics.txt
counted=$(awk '/^amps_http_requests_total\{/ { n += $NF } END { print n + 0 }' \
    metrics.txt)
# Kind 15 of the mix, GET /api/streams/999: one in 30.
n404=$(grep '^amps_http_requests_total{' metrics.txt | grep '"GET"' |
    grep '"/api/streams/{id}"' | grep '"404"' | awk '{ print $NF }')
assert_eq "GET /api/streams/{id} 404 count" "$((REQUESTS / 30 + (REQUESTS % 30 > 15)))" "$n404"
assert_eq "sum of amps_http_requests_total" "$served" "$counted"

echo "leak: ok"
