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

note "gzip only when the client takes it (q-values), HEAD as GET"
# A playlist large enough to be compressed.
i=2
while [ "$i" -le 40 ]; do
	printf '{"id":%d,"name":"Channel %d","source":"/x.ts","ffmpeg_profile":"copy"}' \
	    "$i" "$i" > body.json
	env -i AMPS_CONF="$TMPDIR_TEST/amps.conf" REQUEST_METHOD=POST \
	    REQUEST_URI=/api/streams CONTENT_LENGTH="$(wc -c < body.json)" \
	    "$FCGI" < body.json > /dev/null || fail "POST $i"
	i=$((i + 1))
done
gen=$(sqlite3 amps.db 'SELECT value FROM generation')
cgi_ae()
{
	env -i AMPS_CONF="$TMPDIR_TEST/amps.conf" REQUEST_METHOD="$1" \
	    REQUEST_URI=/playlist.m3u HTTP_ACCEPT_ENCODING="$2" \
	    ${3:+HTTP_IF_NONE_MATCH="$3"} "$FCGI" </dev/null >resp.raw
	HEADERS=$(sed '/^\r$/q' resp.raw | tr -d '\r')
}
cgi_ae GET 'gzip'
assert_match "gzip taken" '^Content-Encoding: gzip$' "$HEADERS"
gz_etag=$(printf '%s\n' "$HEADERS" | sed -n 's/^ETag: //p')
cgi_ae HEAD 'gzip'
assert_match "HEAD says gzip as GET does" '^Content-Encoding: gzip$' "$HEADERS"
for refused in 'gzip;q=0' 'identity' 'br, gzip; q=0.0' '*;q=0'; do
	cgi_ae GET "$refused"
	assert_no_match "no gzip for [$refused]" '^Content-Encoding' "$HEADERS"
done
cgi_ae GET 'deflate, *;q=0.5'
assert_match "gzip through *" '^Content-Encoding: gzip$' "$HEADERS"
cgi_ae GET '' "$gz_etag"
assert_match "the gzip tag does not revalidate the plain body" \
    '^Status: 200' "$HEADERS"
cgi_ae GET 'gzip' "$gz_etag"
assert_match "the gzip tag revalidates the gzip body" '^Status: 304' \
    "$HEADERS"
assert_match "304 carries Vary" '^Vary: Accept-Encoding$' "$HEADERS"

note "a database made again from scratch does not match the old tags"
mkdir fresh
cp amps.conf fresh/amps.conf
fresh_get()
{
	env -i AMPS_CONF="$TMPDIR_TEST/fresh/amps.conf" REQUEST_METHOD=GET \
	    REQUEST_URI=/playlist.m3u ${1:+HTTP_IF_NONE_MATCH="$1"} \
	    "$FCGI" </dev/null >resp.raw
	HEADERS=$(sed '/^\r$/q' resp.raw | tr -d '\r')
}
run_amps -c fresh/amps.conf init
expect_rc "fresh init" 0
gen1=$(sqlite3 fresh/amps.db 'SELECT value FROM generation')
fresh_get
old_etag=$(printf '%s\n' "$HEADERS" | sed -n 's/^ETag: //p')
fresh_get "$old_etag"
assert_match "same database, same tag" '^Status: 304' "$HEADERS"
rm -f fresh/amps.db fresh/amps.db-wal fresh/amps.db-shm
run_amps -c fresh/amps.conf init
expect_rc "init from scratch" 0
assert_eq "the generation starts over" "$gen1" \
    "$(sqlite3 fresh/amps.db 'SELECT value FROM generation')"
fresh_get "$old_etag"
assert_match "old tag, new database" '^Status: 200' "$HEADERS"

note "the store is unchanged by all of it"
assert_eq "generation after requests" "$gen" \
    "$(sqlite3 amps.db 'SELECT value FROM generation')"
echo "responder: ok"
