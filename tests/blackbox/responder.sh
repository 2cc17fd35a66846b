# amps.fcgi as a plain CGI program (RFC 3875): the routing policy, JSON
# errors, HEAD, and the health route reading a real store.
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"

cd "$TMPDIR_TEST" || fail "no scratch folder"
cat > amps.conf <<'CONF'
server = { database = "amps.db"; media_root = "media"; };
streams = ( { id = 1; name = "One"; source = "/x.ts"; ffmpeg_profile = "copy"; } );
CONF

# cgi METHOD URI [QUERY]: runs one request with a clean environment and
# splits the answer into STATUS, HEADERS and BODY.
cgi()
{
	env -i AMPS_CONF="$TMPDIR_TEST/amps.conf" REQUEST_METHOD="$1" \
	    REQUEST_URI="$2" QUERY_STRING="${3:-}" GATEWAY_INTERFACE=CGI/1.1 \
	    "$FCGI" </dev/null >resp.raw 2>resp.err
	RC=$?
	[ "$RC" -eq 0 ] || fail "$1 $2: exit status $RC: $(cat resp.err)"
	STATUS=$(head -n1 resp.raw | tr -d '\r' | sed 's/^Status: //')
	HEADERS=$(sed '/^\r$/q' resp.raw | tr -d '\r')
	BODY=$(sed '1,/^\r$/d' resp.raw)
}

note "no database yet: 503, not a crash"
cgi GET /api/health
assert_eq "status without db" "503 Service Unavailable" "$STATUS"
assert_match "body without db" '"status":"no database"' "$BODY"

run_amps -c amps.conf init
expect_rc "init" 0
gen=$(sqlite3 amps.db 'SELECT value FROM generation')

note "health reads the store"
cgi GET /api/health
assert_eq "status" "200 OK" "$STATUS"
assert_match "content type" '^Content-Type: application/json$' "$HEADERS"
assert_match "generation" "\"generation\":$gen[,}]" "$BODY"
assert_match "version" '"version":"0.1.0"' "$BODY"
len=$(printf '%s\n' "$BODY" | wc -c)
assert_match "content length" "^Content-Length: $len\$" "$HEADERS"

note "HEAD: the same headers, no body"
cgi HEAD /api/health
assert_eq "head status" "200 OK" "$STATUS"
assert_eq "head body" "" "$BODY"
assert_match "head length" "^Content-Length: $len\$" "$HEADERS"

note "405 with Allow, 404, as JSON"
cgi POST /api/health
assert_eq "post status" "405 Method Not Allowed" "$STATUS"
assert_match "allow" '^Allow: GET, HEAD$' "$HEADERS"
assert_match "405 body" '^\{"error":"method POST not allowed on /api/health"\}$' "$BODY"
cgi GET /api/nothing-here
assert_eq "404 status" "404 Not Found" "$STATUS"
assert_match "404 body" '^\{"error":"no such resource: /api/nothing-here"\}$' "$BODY"

note "malformed requests are 400, never a crash"
for bad in '/api/%zz' '/api/%4' '/../../etc/passwd' '/api/..' '/a%00b'; do
	cgi GET "$bad"
	assert_eq "status of $bad" "400 Bad Request" "$STATUS"
	assert_match "400 body of $bad" '^\{"error":' "$BODY"
done
cgi GET /api/health 'a=%zz'
assert_eq "bad query" "400 Bad Request" "$STATUS"
cgi GET /api/health 'a=1&a=2&b=%20x+y&&=&c'
assert_eq "odd but valid query" "200 OK" "$STATUS"

note "the store is unchanged by all of it"
assert_eq "generation after requests" "$gen" \
    "$(sqlite3 amps.db 'SELECT value FROM generation')"
echo "responder: ok"
