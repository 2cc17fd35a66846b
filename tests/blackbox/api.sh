# Black-box test of amps.fcgi as a plain CGI program (RFC 3875), route by
# route: the playlist (P1-P6), the guide (G1, G2), the stream API (A1),
# auth (A2), status and metrics (A3) and the save (A6).  Every refused
# request must answer a JSON error and leave the database as it was
# (sqlite3 .dump before and after, the generation row included).
#
# The catalogue is tests/blackbox/fixtures/api.conf; it has auth on, a
# shared token, a viewer key and an admin key, and max_body_size 2048.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

for prog in sqlite3 jq xmllint tv_validate_file gzip; do
	command -v "$prog" >/dev/null 2>&1 ||
	    skip "$prog is not installed (tools/install-deps installs it)"
done
DTD=/usr/share/xmltv/xmltv.dtd
[ -r "$DTD" ] || skip "$DTD is missing (xmltv-util installs it)"

FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"
copy_file "$AMPS_TEST_SRCDIR/blackbox/fixtures/api.conf" amps.conf
CONF=$T/amps.conf
DB=$T/amps.db
BASE=http://127.0.0.1:8080

TOKEN=shared-token-123
VIEWER=viewer-key-4567
ADMIN=admin-key-89ab

run_amps -c "$CONF" init
expect_rc "init" 0

# ---------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------

# The credential sent with every request unless a test says otherwise:
# a NAME=VALUE meta-variable, or empty.
CRED=
as_admin()  { CRED="HTTP_X_AMPS_TOKEN=$ADMIN"; }
as_viewer() { CRED="HTTP_X_AMPS_TOKEN=$VIEWER"; }
as_nobody() { CRED=; }

# The body of the next request: a file, or nothing.
REQ_BODY=

# http METHOD URI [NAME=VALUE...]: runs one request; URI may carry a
# ?query.  The NAME=VALUE pairs are extra meta-variables (headers as
# HTTP_*), after the defaults so that they win.  Sets CODE (the status
# code), STATUS (code and reason), HEADERS (CR removed), BODY (text) and
# the file resp.body (the bytes).  Checks what every answer must be: a
# Status line, CRLF header lines, and for 4xx and 5xx a JSON object with
# a string "error".
http()
{
	h_method=$1 h_uri=$2
	shift 2
	h_query=
	case $h_uri in
	*\?*)	h_query=${h_uri#*\?} ;;
	esac
	h_in=/dev/null
	if [ -n "$REQ_BODY" ]; then
		h_in=$REQ_BODY
		set -- "CONTENT_LENGTH=$(wc -c <"$REQ_BODY" | tr -d ' ')" \
		    "CONTENT_TYPE=application/json" "$@"
	fi
	REQ_BODY=
	# shellcheck disable=SC2086 # CRED is one word or none
	env -i PATH="$PATH" AMPS_CONF="$CONF" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 SERVER_PORT=8080 \
	    REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1:8080 \
	    REQUEST_METHOD="$h_method" REQUEST_URI="$h_uri" \
	    QUERY_STRING="$h_query" $CRED "$@" \
	    "$FCGI" <"$h_in" >resp.raw 2>resp.err
	h_rc=$?
	[ "$h_rc" -eq 0 ] ||
	    fail "$h_method $h_uri: exit status $h_rc: $(cat resp.err)"
	STATUS=$(head -n1 resp.raw | tr -d '\r')
	case $STATUS in
	"Status: "[1-5][0-9][0-9]" "?*) ;;
	*)	fail "$h_method $h_uri: no Status line: $(head -c 300 resp.raw)" ;;
	esac
	STATUS=${STATUS#Status: }
	CODE=${STATUS%% *}
	h_len=$(sed '/^\r$/q' resp.raw | wc -c)
	head -c "$h_len" resp.raw >resp.head
	tail -n1 resp.head | grep -q "$(printf '^\r$')" ||
	    fail "$h_method $h_uri: no blank line after the headers"
	if grep -v "$(printf '\r$')" resp.head | grep -q .; then
		fail "$h_method $h_uri: a header line without CR LF"
	fi
	HEADERS=$(tr -d '\r' <resp.head)
	tail -c +"$((h_len + 1))" resp.raw >resp.body
	BODY=$(cat resp.body)
	h_cl=$(header Content-Length)
	if [ -n "$h_cl" ] && [ "$h_method" != HEAD ] &&
	    [ "$h_cl" != "$(wc -c <resp.body | tr -d ' ')" ]; then
		fail "$h_method $h_uri: Content-Length $h_cl for a body of $(wc -c <resp.body | tr -d ' ') bytes"
	fi
	if [ "$CODE" -ge 400 ] && [ "$h_method" != HEAD ]; then
		header_is Content-Type 'application/json(;.*)?' \
		    "$h_method $h_uri ($STATUS)"
		jq -e 'type == "object" and (.error | type == "string") and
		    (.error | length > 0)' resp.body >/dev/null 2>&1 ||
		    fail "$h_method $h_uri: $STATUS without a JSON error: $BODY"
	fi
}

# json METHOD URI JSON [NAME=VALUE...]: http with a JSON body.
json()
{
	printf '%s' "$3" >req.json
	REQ_BODY=req.json
	j_method=$1 j_uri=$2
	shift 3
	http "$j_method" "$j_uri" "$@"
}

# header_is NAME REGEX [WHAT]: the response has the header NAME (case
# does not matter) whose value matches REGEX entirely.
header_is()
{
	printf '%s\n' "$HEADERS" | grep -Eiq "^$1: ?$2\$" ||
	    fail "${3:-$STATUS}: no header $1 matching /$2/ in: $HEADERS"
}

# header NAME: the value of a response header, or nothing.
header()
{
	printf '%s\n' "$HEADERS" | sed -n "s/^$1: *//Ip" | head -n1
}

# expect CODE WHAT: the last answer had status CODE.
expect()
{
	[ "$CODE" = "$1" ] ||
	    fail "$2: expected status $1, got $STATUS: $(head -c 1000 resp.body)"
}

# expect_4xx WHAT
expect_4xx()
{
	case $CODE in
	4??)	;;
	*)	fail "$1: expected a 4xx status, got $STATUS: $BODY" ;;
	esac
}

# assert_jq WHAT FILTER [jq options]: FILTER holds on the body.
assert_jq()
{
	aj_what=$1 aj_filter=$2
	shift 2
	jq -e "$@" "$JQ_DEFS $aj_filter" resp.body >/dev/null 2>jq.err ||
	    fail "$aj_what: [$aj_filter] does not hold ($(cat jq.err)) on: $(head -c 2000 resp.body)"
}

# jqr FILTER: prints the filter's raw output on the body.
jqr()
{
	jq -r "$JQ_DEFS $1" resp.body
}

# The list of an API answer: the array itself, or the array under the
# first of these keys.
JQ_DEFS='def items: if type == "array" then . else
    (.streams // .channels // .items // .programs // .programmes //
    error("no list in the answer")) end;'

# snap: the database as text; unchanged WHAT: it is still the same.
snap()
{
	sqlite3 "$DB" .dump >db.before || fail "sqlite3 .dump failed"
}
unchanged()
{
	sqlite3 "$DB" .dump >db.after || fail "sqlite3 .dump failed"
	cmp -s db.before db.after ||
	    fail "$1: the database changed: $(diff db.before db.after | head -n 20)"
}
generation()
{
	sqlite3 "$DB" 'SELECT value FROM generation'
}

# reject CODE METHOD URI [NAME=VALUE...] and
# reject_json CODE METHOD URI JSON [NAME=VALUE...]: the request is refused
# with CODE ("4xx": any client error) and a JSON error, and the database
# is unchanged.
reject()
{
	r_code=$1
	shift
	snap
	http "$@"
	check_rejected "$r_code" "$1 $(printf '%.100s' "$2")"
}
reject_json()
{
	r_code=$1
	shift
	snap
	json "$@"
	check_rejected "$r_code" "$1 $2 $(printf '%.100s' "$3")"
}
check_rejected()
{
	if [ "$1" = 4xx ]; then
		expect_4xx "$2"
	else
		expect "$1" "$2"
	fi
	unchanged "$2"
	note "refused ($STATUS): $2: $(jq -r .error resp.body)"
}

# Playlist helpers.  stream_ids: the channel ids of the entries that are
# not variants, in order, on one line.
stream_ids()
{
	grep -v '^#' resp.body | grep -v 'variant=' |
	    sed -n 's|^[a-z]*://[^/]*\(/m/[^/]*\)\{0,1\}/stream/\([0-9]*\).*|\2|p' |
	    tr -d '\r' | tr '\n' ' ' | sed 's/ $//'
}
# entry NAME: the lines of the entry whose #EXTINF line ends with
# ",NAME", up to the next #EXTINF (its URL and custom tags).
entry()
{
	tr -d '\r' <resp.body | awk -v name="$1" '
	/^#EXTINF/ {
		inb = length($0) > length(name) &&
		    substr($0, length($0) - length(name)) == "," name
	}
	inb { print }'
}
# url_of NAME: the stream URL of that entry.
url_of()
{
	entry "$1" | grep -v '^#' | head -n1
}
# check_m3u WHAT: the playlist is well formed: #EXTM3U first, every
# #EXTINF line is "-1", quoted attributes without stray quotes and a
# name, and each is followed by exactly one URL line.
check_m3u()
{
	head -n1 resp.body | tr -d '\r' | grep -q '^#EXTM3U' ||
	    fail "$1: the playlist does not start with #EXTM3U: $BODY"
	tr -d '\r' <resp.body | awk '
	NR == 1 { next }
	/^#EXTINF/ {
		if (want) { print "no URL before line " NR; bad = 1 }
		if ($0 !~ /^#EXTINF:-1( [A-Za-z0-9-]+="[^"]*")*,[^,].*$/) {
			print "bad #EXTINF line " NR ": " $0; bad = 1
		}
		want = 1; next
	}
	/^#/ { next }
	/^$/ { next }
	{
		if (!want) { print "URL without #EXTINF at line " NR; bad = 1 }
		if ($0 !~ /^https?:\/\/[^ "]+$/) {
			print "bad URL line " NR ": " $0; bad = 1
		}
		want = 0
	}
	END { if (want) { print "no URL after the last entry"; bad = 1 }
	    exit bad }' >m3u.err ||
	    fail "$1: malformed playlist: $(cat m3u.err)"
}
# playlist QUERY WHAT [NAME=VALUE...]: GETs /playlist.m3u?QUERY and checks
# it is a 200 playlist.
playlist()
{
	p_what=$2 p_query=$1
	shift 2
	http GET "/playlist.m3u${p_query:+?$p_query}" "$@"
	expect 200 "$p_what"
	check_m3u "$p_what"
}

# ---------------------------------------------------------------------
note "the health route is public"
# ---------------------------------------------------------------------
as_nobody
http GET /api/health
expect 200 "health without credentials"
assert_jq "health" '.status == "ok"'

# ---------------------------------------------------------------------
note "auth: 401 without a credential or with a wrong one"
# ---------------------------------------------------------------------
for uri in /playlist.m3u /playlist.m3u8 /epg.xml /api/epg /api/streams \
    /api/streams/1 /api/streams/1/programs /api/status \
    /api/streams/1/status /metrics; do
	reject 401 GET "$uri"
done
reject 401 GET "/api/streams?token=wrong-token-000"
reject 401 GET /api/streams "HTTP_X_AMPS_TOKEN=wrong-token-000"
reject 401 GET /api/streams "HTTP_AUTHORIZATION=Bearer wrong-token-000"
reject 401 GET /api/streams "HTTP_X_API_KEY=wrong-token-000"
grep -q '/api/streams' resp.err ||
    fail "a refused credential is not logged: [$(cat resp.err)]"
if grep -q 'wrong-token-000' resp.err; then
	fail "the log shows the presented secret: $(cat resp.err)"
fi
reject 401 GET /api/streams "HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz"
# A token that differs in the last character, or is a prefix.
reject 401 GET "/api/streams?token=shared-token-124"
reject 401 GET "/api/streams?token=shared-token-12"
reject 401 POST /api/streams
reject_json 401 POST /api/streams \
    '{"id":70,"name":"X","source":"/x.ts","ffmpeg_profile":"copy"}'
reject_json 401 POST /api/streams \
    '{"id":70,"name":"X","source":"/x.ts","ffmpeg_profile":"copy"}' \
    "HTTP_X_AMPS_TOKEN=wrong-token-000"
reject 401 DELETE /api/streams/1
reject_json 401 PATCH /api/streams/1 '{"name":"Hacked"}'
reject_json 401 PUT /api/streams/1/programs '[]'
reject 401 POST /api/admin/save
header_is WWW-Authenticate 'Bearer.*'

note "auth: every place a credential may be given"
http GET "/api/streams?token=$TOKEN"
expect 200 "shared token in ?token="
http GET /api/streams "HTTP_X_AMPS_TOKEN=$TOKEN"
expect 200 "shared token in X-Amps-Token"
http GET /api/streams "HTTP_AUTHORIZATION=Bearer $VIEWER"
expect 200 "viewer key as Bearer"
http GET /api/streams "HTTP_X_API_KEY=$VIEWER"
expect 200 "viewer key in X-Api-Key"
http GET "/api/streams?token=$VIEWER"
expect 200 "viewer key in ?token="
http GET /api/streams "HTTP_AUTHORIZATION=Bearer $ADMIN"
expect 200 "admin key as Bearer"
http GET "/playlist.m3u?token=$TOKEN"
expect 200 "playlist with the shared token"

note "auth: a viewer reads but may not write (403, not 401)"
as_viewer
for uri in /playlist.m3u /epg.xml /api/epg /api/streams /api/streams/1 \
    /api/streams/1/programs /api/status /api/streams/1/status /metrics; do
	http GET "$uri"
	expect 200 "viewer GET $uri"
done
reject_json 403 POST /api/streams \
    '{"id":70,"name":"X","source":"/x.ts","ffmpeg_profile":"copy"}'
reject_json 403 PUT /api/streams/1 \
    '{"name":"X","source":"/x.ts","ffmpeg_profile":"copy"}'
reject_json 403 PATCH /api/streams/1 '{"name":"Hacked"}'
reject 403 DELETE /api/streams/1
reject_json 403 PUT /api/streams/1/programs '[{"title":"Hacked"}]'
reject 403 POST /api/admin/save
for cred in "HTTP_AUTHORIZATION=Bearer $VIEWER" "HTTP_X_API_KEY=$VIEWER"; do
	reject 403 DELETE /api/streams/1 "$cred"
done
reject 403 DELETE "/api/streams/1?token=$VIEWER"
# A viewer's key and a wrong one in a second place do not make an admin.
reject 4xx DELETE /api/streams/1 "HTTP_X_API_KEY=$ADMIN-wrong"

# ---------------------------------------------------------------------
note "playlist: P1 attributes, P2 tags, P4 variants"
# ---------------------------------------------------------------------
as_nobody
playlist "token=$TOKEN" "playlist"
header_is Content-Type '(audio|application)/(x-|vnd\.apple\.)?mpegurl(;.*)?'
head -n1 resp.body | tr -d '\r' >m3u.head
assert_match "#EXTM3U url-tvg" \
    "^#EXTM3U.* url-tvg=\"$BASE/epg\\.xml[^\"]*\"" "$(cat m3u.head)"
assert_match "url-tvg carries the token" 'url-tvg="[^"]*token=shared-token-123' \
    "$(cat m3u.head)"
cp resp.body plain.m3u
# Region rules always apply: channel 2 (allow list) is hidden from an
# unknown viewer; 10 (closed window) and 900 (not yet open) too.
assert_eq "visible channels" "1 3 11 901" "$(stream_ids)"

one=$(entry One)
[ -n "$one" ] || fail "no entry named One: $BODY"
extinf=$(printf '%s\n' "$one" | head -n1)
assert_match "EXTINF -1" '^#EXTINF:-1 ' "$extinf"
for attr in 'tvg-id="one\.amps"' 'tvg-name="One HD"' \
    'tvg-logo="http://logos\.example/one\.png"' 'group-title="News"' \
    'tvg-chno="101"' 'channel-number="101"'; do
	assert_match "channel 1 $attr" " $attr( |,)" "$extinf"
done
assert_match "channel 1 AMP-NEXT" \
    '^#EXTREM:AMP-NEXT.*Morning News.*2030-01-01' "$one"
assert_no_match "AMP-NEXT is the next one only" '^#EXTREM:AMP-NEXT.*Weather' \
    "$one"
assert_match "channel 1 AMP-PROGRAM-FEED" \
    '^#EXTREM:AMP-PROGRAM-FEED.*http://feeds\.example/one\.json' "$one"
assert_match "channel 1 AMP-DESCRIPTION" \
    '^#EXTREM:AMP-DESCRIPTION.*The first channel' "$one"
url=$(url_of One)
# With auth on, media URLs are signed (access.h): the expiry, no region,
# a 128-bit MAC; the token itself never appears in them.
assert_match "channel 1 URL" "^$BASE/m/[0-9]+\\.-\\.[0-9a-f]{32}/stream/1\$" "$url"
assert_no_match "the URL does not carry the token" 'token=' "$url"
assert_no_match "no variant on the main entry" 'variant=' "$url"

note "variants: \"Name (LABEL)\" -> /stream/<id>?variant=<name>"
for v in hd:HD sd:SD; do
	name=${v%%:*} label=${v#*:}
	ve=$(entry "One ($label)")
	[ -n "$ve" ] || fail "no variant entry 'One ($label)': $BODY"
	vurl=$(url_of "One ($label)")
	assert_match "variant $name URL" \
	    "^$BASE/m/[^/]+/stream/1\\?variant=$name\$" "$vurl"
	assert_match "variant $name AMP-VARIANT" "^#EXTREM:AMP-VARIANT.*$name" \
	    "$ve"
	assert_match "variant $name tvg-id" ' tvg-id="one\.amps"' \
	    "$(printf '%s\n' "$ve" | head -n1)"
done
nvar=$(grep -c 'variant=' resp.body)
assert_eq "variant entries" 2 "$nvar"

note "escaping: quotes and commas in a name do not break the line"
three=$(tr -d '\r' <resp.body | grep '^#EXTINF.* tvg-id="three\.amps"')
assert_match "channel 3 tvg-id" ' tvg-id="three\.amps"' "$three"
assert_match "channel 3 group" ' group-title="news"' "$three"
assert_match "channel 3 display name" ',Three, .the third.$' "$three"
# The tvg-name attribute (the name) holds no raw double quote.
printf '%s\n' "$three" | grep -Eq ' tvg-name="Three, [^"]*the third[^"]*"' ||
    fail "channel 3 tvg-name not escaped: $three"

note "the same playlist as .m3u8"
http GET "/playlist.m3u8?token=$TOKEN"
expect 200 "m3u8"
cmp -s resp.body plain.m3u || fail "/playlist.m3u8 differs from /playlist.m3u"

note "HEAD on the playlist: headers, no body"
http HEAD "/playlist.m3u?token=$TOKEN"
expect 200 "HEAD playlist"
assert_eq "HEAD body" 0 "$(wc -c <resp.body | tr -d ' ')"

# ---------------------------------------------------------------------
note "playlist filters (P3) and region locking (P5)"
# ---------------------------------------------------------------------
playlist "token=$TOKEN&region=US" "region US"
assert_eq "region=US" "1 2 3 11 901" "$(stream_ids)"
for u in $(grep '/stream/' resp.body | tr -d '\r'); do
	assert_match "URL carries the region" '/m/[0-9]+\.US\.[0-9a-f]{32}/' "$u"
	assert_no_match "URL does not carry the token" 'token=' "$u"
done
assert_match "channel 2 AMP-REGION" '^#EXTREM:AMP-REGION.*US.*GB' \
    "$(entry Two)"
playlist "token=$TOKEN&region=us" "region us"
assert_eq "region=us (normalised)" "1 2 3 11 901" "$(stream_ids)"
assert_match "normalised region in URLs" '/m/[0-9]+\.US\.' "$(url_of Two)"
playlist "token=$TOKEN&region=GB" "region GB"
assert_eq "region=GB" "1 2 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN&region=AU" "region AU"
assert_eq "region=AU" "1 11 901" "$(stream_ids)"
playlist "token=$TOKEN&region=FR" "region FR"
assert_eq "region=FR" "1 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN" "region AU in a header" HTTP_X_AMPS_REGION=AU
assert_eq "X-Amps-Region" "1 11 901" "$(stream_ids)"
assert_match "header region in URLs" '/m/[0-9]+\.AU\.' "$(url_of One)"
playlist "token=$TOKEN" "region in X-Region" HTTP_X_REGION=GB
assert_eq "X-Region" "1 2 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN" "region in CF-IPCountry" HTTP_CF_IPCOUNTRY=US
assert_eq "CF-IPCountry" "1 2 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN" "region in X-Appengine-Country" \
    HTTP_X_APPENGINE_COUNTRY=au
assert_eq "X-Appengine-Country" "1 11 901" "$(stream_ids)"
playlist "token=$TOKEN&region=FR" "query before header" HTTP_CF_IPCOUNTRY=US
assert_eq "query region wins" "1 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN" "first header wins" HTTP_X_AMPS_REGION=US \
    HTTP_CF_IPCOUNTRY=AU
assert_eq "X-Amps-Region before CF-IPCountry" "1 2 3 11 901" "$(stream_ids)"

playlist "token=$TOKEN&group=news" "group news"
assert_eq "group=news (any case)" "1 3" "$(stream_ids)"
playlist "token=$TOKEN&group=NEWS" "group NEWS"
assert_eq "group=NEWS" "1 3" "$(stream_ids)"
playlist "token=$TOKEN&group=sports&region=US" "group sports"
assert_eq "group=sports&region=US" "2" "$(stream_ids)"
playlist "token=$TOKEN&group=sports" "group sports, no region"
assert_eq "group=sports without region" "" "$(stream_ids)"
playlist "token=$TOKEN&group=News,events" "two groups"
assert_eq "group=News,events" "1 3 11 901" "$(stream_ids)"
playlist "token=$TOKEN&group=Nothing" "no such group"
assert_eq "group=Nothing" "" "$(stream_ids)"
assert_eq "empty playlist: only the header" 1 \
    "$(grep -c . resp.body | tr -d ' ')"

playlist "token=$TOKEN&ids=3,1" "ids 3,1"
assert_eq "ids=3,1 (playlist order)" "1 3" "$(stream_ids)"
playlist "token=$TOKEN&ids=2" "ids 2 without region"
assert_eq "ids=2: region rules still apply" "" "$(stream_ids)"
playlist "token=$TOKEN&ids=2&region=GB" "ids 2 in GB"
assert_eq "ids=2&region=GB" "2" "$(stream_ids)"
playlist "token=$TOKEN&ids=10,900,11" "ids outside windows"
assert_eq "ids=10,900,11: windows still apply" "11" "$(stream_ids)"
playlist "token=$TOKEN&ids=999" "ids unknown"
assert_eq "ids=999" "" "$(stream_ids)"
playlist "token=$TOKEN&ids=1&group=sports" "ids and group"
assert_eq "ids=1&group=sports" "" "$(stream_ids)"

playlist "token=$TOKEN&variants=false" "variants=false"
assert_eq "variants=false: channels" "1 3 11 901" "$(stream_ids)"
assert_eq "variants=false: no variant URL" 0 \
    "$(grep -c 'variant=' resp.body | tr -d ' ')"
[ -z "$(entry 'One (HD)')" ] || fail "variants=false still lists One (HD)"
playlist "token=$TOKEN&variants=true" "variants=true"
assert_eq "variants=true" 2 "$(grep -c 'variant=' resp.body | tr -d ' ')"

note "malformed filters are 400"
reject 400 GET "/playlist.m3u?token=$TOKEN&ids=abc"
reject 400 GET "/playlist.m3u?token=$TOKEN&ids=1,abc"
reject 400 GET "/playlist.m3u?token=$TOKEN&ids=-1"
reject 400 GET "/playlist.m3u?token=$TOKEN&ids=1.5"
reject 400 GET "/playlist.m3u?token=$TOKEN&ids=99999999999999999999"
reject 400 GET "/playlist.m3u?token=$TOKEN&region=%zz"
reject 400 GET "/playlist.m3u?token=$TOKEN&group=%4"
reject 400 GET "/playlist.m3u?token=$TOKEN&group=a%00b"
reject 400 GET "/playlist.m3u?token=$TOKEN&region=USA"
reject 400 GET "/playlist.m3u?token=$TOKEN&region=1X"
reject 400 GET "/epg.xml?token=$TOKEN&ids=abc"
reject 400 GET "/api/epg?token=$TOKEN&ids=abc"
reject 400 GET "/api/streams?token=$TOKEN&x=%G0"

note "the token used is the one carried: a viewer key in Bearer"
playlist "" "playlist with a Bearer viewer key" \
    "HTTP_AUTHORIZATION=Bearer $VIEWER"
assert_match "Bearer key carried to the guide" "url-tvg=\"[^\"]*[?&]token=$VIEWER" "$(head -n1 resp.body)"
assert_match "Bearer viewer: signed media URL" "^$BASE/m/" "$(url_of One)"

# ---------------------------------------------------------------------
note "playlist: ETag and 304, gzip"
# ---------------------------------------------------------------------
# conditional URI FORMAT WHAT: GETs URI for its ETag (ETAG), then again
# with If-None-Match set to printf FORMAT ETAG, and expects a 304 without
# a body.  The ETag moves with the clock's minute (scheduled windows open
# and close), so a roll-over between the two requests gets one more try.
conditional()
{
	c_try=0
	while :; do
		http GET "$1"
		expect 200 "$3: the first GET"
		ETAG=$(header ETag)
		[ -n "$ETAG" ] || fail "$3: no ETag: $HEADERS"
		# shellcheck disable=SC2059 # the format is the argument
		http GET "$1" "HTTP_IF_NONE_MATCH=$(printf "$2" "$ETAG")"
		if [ "$CODE" = 200 ] && [ "$c_try" -eq 0 ] &&
		    [ "$(header ETag)" != "$ETAG" ]; then
			c_try=1
			continue
		fi
		break
	done
	expect 304 "$3"
	assert_eq "$3: 304 body" 0 "$(wc -c <resp.body | tr -d ' ')"
}

playlist "token=$TOKEN" "etag"
cp resp.body etag.m3u
conditional "/playlist.m3u?token=$TOKEN" '%s' "If-None-Match with the ETag"
etag=$ETAG
conditional "/playlist.m3u?token=$TOKEN" '"other", %s' \
    "If-None-Match with a list"
http GET "/playlist.m3u?token=$TOKEN" 'HTTP_IF_NONE_MATCH="nothing-like-it"'
expect 200 "If-None-Match with another tag"
cmp -s resp.body etag.m3u || fail "a second GET gives another playlist"
playlist "token=$TOKEN&group=news" "etag of a filtered playlist"
[ "$(header ETag)" != "$etag" ] ||
    fail "the filtered playlist has the same ETag $etag"
http GET "/playlist.m3u?token=$TOKEN&group=news" "HTTP_IF_NONE_MATCH=$etag"
expect 200 "another filter's ETag does not match"
http GET "/playlist.m3u?token=$VIEWER" "HTTP_IF_NONE_MATCH=$etag"
expect 200 "another token's ETag does not match (its URLs differ)"

http GET "/playlist.m3u?token=$TOKEN" "HTTP_ACCEPT_ENCODING=gzip, deflate"
expect 200 "gzip"
header_is Content-Encoding gzip
gzip -dc <resp.body >gunzipped.m3u 2>gzip.err ||
    fail "the gzip body does not gunzip: $(cat gzip.err)"
cmp -s gunzipped.m3u etag.m3u ||
    fail "the gunzipped playlist differs: $(diff etag.m3u gunzipped.m3u | head)"
http GET "/playlist.m3u?token=$TOKEN" "HTTP_ACCEPT_ENCODING=identity"
expect 200 "identity"
[ -z "$(header Content-Encoding)" ] ||
    fail "Content-Encoding without gzip accepted: $HEADERS"
cmp -s resp.body etag.m3u || fail "identity body differs"

# ---------------------------------------------------------------------
note "guide: XMLTV valid against the DTD and tv_validate_file (G1, G2)"
# ---------------------------------------------------------------------
xmltv()
{
	x_query=$1 x_what=$2
	shift 2
	http GET "/epg.xml?token=$TOKEN${x_query:+&$x_query}" "$@"
	expect 200 "$x_what"
	header_is Content-Type '(application|text)/xml(;.*)?' "$x_what"
	cp resp.body epg.xml
	xmllint --noout --dtdvalid "$DTD" epg.xml 2>xmllint.err ||
	    fail "$x_what: not valid XMLTV: $(head -n 20 xmllint.err)"
}
xpath()
{
	xmllint --xpath "$1" epg.xml 2>/dev/null
}
channel_ids()
{
	xpath '//channel/@id' | sed 's/ *id="\([^"]*\)"/\1 /g' |
	    tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

xmltv "" "guide"
assert_eq "guide channels" "one.amps three.amps 11 901" "$(channel_ids)"
assert_eq "display-name" One \
    "$(xpath 'string(//channel[@id="one.amps"]/display-name[1])')"
assert_eq "icon" http://logos.example/one.png \
    "$(xpath 'string(//channel[@id="one.amps"]/icon/@src)')"
assert_eq "programmes of one.amps" 2 \
    "$(xpath 'count(//programme[@channel="one.amps"])')"
assert_eq "title" "Morning News" \
    "$(xpath 'string(//programme[@channel="one.amps"][1]/title)')"
assert_eq "start" "20300101080000 +0000" \
    "$(xpath 'string(//programme[@channel="one.amps"][1]/@start)')"
assert_eq "stop" "20300101090000 +0000" \
    "$(xpath 'string(//programme[@channel="one.amps"][1]/@stop)')"
assert_eq "desc (escaped & and <)" "Headlines & more <b>" \
    "$(xpath 'string(//programme[@channel="one.amps"][1]/desc)')"
assert_eq "display-name with quotes" 'Three, "the third"' \
    "$(xpath 'string(//channel[@id="three.amps"]/display-name[1])')"

xmltv "ids=1,3" "guide ids=1,3"
assert_eq "ids=1,3" "one.amps three.amps" "$(channel_ids)"
tv_validate_file --dtd-file "$DTD" epg.xml >tvv.out 2>&1 ||
    fail "tv_validate_file rejects the guide: $(cat tvv.out)"
xmltv "group=NEWS" "guide group=NEWS"
assert_eq "group=NEWS" "one.amps three.amps" "$(channel_ids)"
tv_validate_file --dtd-file "$DTD" epg.xml >tvv.out 2>&1 ||
    fail "tv_validate_file rejects the guide: $(cat tvv.out)"
xmltv "region=AU" "guide region=AU"
assert_eq "region=AU" "one.amps 11 901" "$(channel_ids)"
assert_eq "no programme of a hidden channel" 0 \
    "$(xpath 'count(//programme[@channel="three.amps"])')"
xmltv "region=US" "guide region=US"
assert_eq "region=US" "one.amps 2 three.amps 11 901" "$(channel_ids)"
xmltv "" "guide, region in a header" HTTP_CF_IPCOUNTRY=GB
assert_eq "CF-IPCountry=GB" "one.amps 2 three.amps 11 901" "$(channel_ids)"
xmltv "ids=999" "empty guide"
assert_eq "ids=999" "" "$(channel_ids)"

note "guide: ETag and 304, gzip"
xmltv "" "guide for the ETag"
cp epg.xml plain.xml
conditional "/epg.xml?token=$TOKEN" '%s' "guide If-None-Match"
http GET "/epg.xml?token=$TOKEN" "HTTP_ACCEPT_ENCODING=gzip"
expect 200 "gzip guide"
header_is Content-Encoding gzip
gzip -dc <resp.body >gunzipped.xml 2>gzip.err ||
    fail "the gzip guide does not gunzip: $(cat gzip.err)"
cmp -s gunzipped.xml plain.xml || fail "the gunzipped guide differs"

note "guide as JSON: the same channels and programmes"
# For each channel of /api/epg: "<epg id or id>:<titles>" in order.
epg_json()
{
	http GET "/api/epg?token=$TOKEN${1:+&$1}"
	expect 200 "/api/epg?$1"
	header_is Content-Type 'application/json(;.*)?'
	jq -r '(if type == "array" then . else .channels end)[] |
	    ((.epg_id // .id | tostring) + ":" +
	    ([(.programs // .programmes // .next_programs // [])[] | .title]
	    | join("|")))' resp.body 2>jq.err | tr '\n' ' ' | sed 's/ $//' ||
	    fail "/api/epg: unexpected shape: $(cat jq.err): $BODY"
}
assert_eq "/api/epg" \
    "one.amps:Morning News|Weather three.amps:Late Film 11: 901:" \
    "$(epg_json "")"
assert_eq "/api/epg?group=news" \
    "one.amps:Morning News|Weather three.amps:Late Film" \
    "$(epg_json group=news)"
assert_eq "/api/epg?region=AU" "one.amps:Morning News|Weather 11: 901:" \
    "$(epg_json region=AU)"
assert_eq "/api/epg?region=GB&ids=2,3" "2: three.amps:Late Film" \
    "$(epg_json 'region=GB&ids=2,3')"
http GET "/api/epg?token=$TOKEN&ids=1"
assert_jq "/api/epg programme fields" '[.. | objects |
    select(.title? == "Morning News")][0] |
    (.description == "Headlines & more <b>") and
    (.start | tostring | test("2030-01-01T08:00:00Z|1893484800"))'

# ---------------------------------------------------------------------
note "API: reading"
# ---------------------------------------------------------------------
as_viewer
http GET /api/streams
expect 200 "list"
header_is Content-Type 'application/json(;.*)?'
assert_jq "list of objects" '[items[] | type] | all(. == "object")'
# shellcheck disable=SC2016 # jq variables
assert_jq "list has the config's channels" \
    '[items[].id] as $ids | [1, 2, 3, 11, 901] | all(. as $i | $ids | index($i))'
note "list ids: $(jqr '[items[].id] | map(tostring) | join(" ")')"
http GET /api/streams/1
expect 200 "get 1"
assert_jq "stream 1" '.id == 1 and .name == "One" and .group == "News" and
    .epg_id == "one.amps" and .channel_number == 101 and
    .ffmpeg_profile == "copy" and .source == "/srv/one.ts"'
assert_jq "stream 1 variants" '[.adaptive_bitrates[].name] == ["hd", "sd"]'
assert_jq "stream 1 programmes" \
    '[.next_programs[].title] == ["Morning News", "Weather"]'
http GET /api/streams/2
expect 200 "get 2"
assert_jq "stream 2 regions" '.regions_allowed == ["US", "GB"]'
http GET /api/streams/10
expect 200 "a channel outside its window is still in the API"
reject 404 GET /api/streams/999
reject 4xx GET /api/streams/abc
reject 4xx GET /api/streams/0
reject 4xx GET /api/streams/-1
reject 4xx GET /api/streams/1x
reject 4xx GET /api/streams/99999999999999999999
reject 404 GET /api/streams/999/programs
reject 404 GET /api/streams/999/status
http GET /api/streams/1/programs
expect 200 "programs of 1"
assert_jq "programs of 1" '[items[].title] == ["Morning News", "Weather"]'
assert_jq "programme description" \
    'items[0].description == "Headlines & more <b>"'

note "405 and Allow"
reject 405 DELETE /api/streams
header_is Allow '(.*GET.*POST.*|.*POST.*GET.*)'
reject 405 POST /api/streams/1
reject 405 POST /playlist.m3u
reject 405 PUT /api/health

# ---------------------------------------------------------------------
note "API: writing (A1)"
# ---------------------------------------------------------------------
as_admin
gen0=$(generation)
json POST /api/streams \
    '{"id":50,"name":"Fifty","source":"/srv/50.ts","ffmpeg_profile":"copy","group":"Tests","channel_number":50,"next_programs":[{"title":"Test Card","start":"2030-02-01T10:00:00Z","end":"2030-02-01T11:00:00Z"}]}'
expect 201 "POST 50"
header_is Location "($BASE)?/api/streams/50"
[ "$(generation)" -gt "$gen0" ] || fail "POST did not move the generation"
http GET /api/streams/50
expect 200 "GET 50"
assert_jq "stream 50" '.id == 50 and .name == "Fifty" and .group == "Tests"
    and .channel_number == 50 and .next_programs[0].title == "Test Card"'
as_nobody
playlist "token=$TOKEN&ids=50" "the new channel in the playlist"
assert_eq "stream 50 listed" 50 "$(stream_ids)"
assert_match "stream 50 group" ' group-title="Tests"' "$(entry Fifty)"
xmltv "ids=50" "the new channel in the guide"
assert_eq "guide has 50" 50 "$(channel_ids)"
assert_eq "guide has its programme" "Test Card" "$(xpath 'string(//programme/title)')"

note "an old ETag no longer matches after a write"
http GET "/playlist.m3u?token=$TOKEN" "HTTP_IF_NONE_MATCH=$etag"
expect 200 "stale ETag"

as_admin
note "POST without an id"
json POST /api/streams \
    '{"name":"No Id","source":"/srv/noid.ts","ffmpeg_profile":"copy"}'
case $CODE in
201)
	loc=$(header Location)
	noid=${loc##*/}
	case $noid in
	''|*[!0-9]*) fail "POST without id: Location [$loc] has no id" ;;
	esac
	note "POST without an id: 201, id $noid"
	http GET "/api/streams/$noid"
	expect 200 "GET the new id"
	assert_jq "the new channel" '.name == "No Id"'
	http DELETE "/api/streams/$noid"
	;;
400)
	note "POST without an id: 400 ($(jq -r .error resp.body))"
	;;
*)	fail "POST without an id: $STATUS" ;;
esac

note "POST conflicts: 409"
reject_json 409 POST /api/streams \
    '{"id":50,"name":"Again","source":"/srv/a.ts","ffmpeg_profile":"copy"}'
reject_json 409 POST /api/streams \
    '{"id":1,"name":"Again","source":"/srv/a.ts","ffmpeg_profile":"copy"}'
reject_json 409 POST /api/streams \
    '{"id":900,"name":"Again","source":"/srv/a.ts","ffmpeg_profile":"copy"}'

note "PUT replaces the whole channel"
json PUT /api/streams/50 \
    '{"name":"Fifty B","source":"/srv/50b.ts","ffmpeg_profile":"small"}'
expect 200 "PUT 50"
http GET /api/streams/50
assert_jq "after PUT" '.id == 50 and .name == "Fifty B" and
    .source == "/srv/50b.ts" and .ffmpeg_profile == "small"'
assert_jq "PUT dropped the group" '(.group // "") == ""'
assert_jq "PUT dropped the channel number" '(.channel_number // 0) == 0'
assert_jq "PUT dropped the programmes" '(.next_programs // []) == []'
json PUT /api/streams/50 \
    '{"id":50,"name":"Fifty C","source":"/srv/50c.ts","ffmpeg_profile":"copy","group":"Tests"}'
expect 200 "PUT 50 with its id"
reject_json 404 PUT /api/streams/777 \
    '{"name":"Nope","source":"/srv/n.ts","ffmpeg_profile":"copy"}'
reject_json 4xx PUT /api/streams/50 \
    '{"id":51,"name":"Other","source":"/srv/o.ts","ffmpeg_profile":"copy"}'

note "PATCH changes only what it names"
json PATCH /api/streams/50 '{"group":"Patched","channel_number":7}'
expect 200 "PATCH 50"
http GET /api/streams/50
assert_jq "after PATCH" '.name == "Fifty C" and .group == "Patched" and
    .channel_number == 7 and .source == "/srv/50c.ts"'
json PATCH /api/streams/1 '{"description":"Patched description"}'
expect 200 "PATCH 1"
http GET /api/streams/1
assert_jq "PATCH kept variants and programmes" \
    '[.adaptive_bitrates[].name] == ["hd", "sd"] and
    [.next_programs[].title] == ["Morning News", "Weather"] and
    .description == "Patched description" and .tvg_name == "One HD"'
reject_json 404 PATCH /api/streams/777 '{"name":"Nope"}'

note "a name with a newline cannot break the playlist"
json POST /api/streams \
    '{"id":60,"name":"Line\nBreak \"q\", c","source":"/srv/60.ts","ffmpeg_profile":"copy","group":"A\"B,\nC","logo":"http://l.example/a\"b.png"}'
case $CODE in
201)	note "a newline in a name is accepted"
	as_nobody
	playlist "token=$TOKEN" "playlist with a newline in a name"
	assert_match "channel 60 listed" "/stream/60" "$BODY"
	as_admin
	http DELETE /api/streams/60
	;;
400)	note "a newline in a name is refused: $(jq -r .error resp.body)" ;;
*)	fail "POST with a newline in a name: $STATUS" ;;
esac

note "DELETE"
http DELETE /api/streams/50
case $CODE in
200|204) note "DELETE answers $STATUS" ;;
*)	fail "DELETE 50: $STATUS" ;;
esac
[ "$CODE" = 204 ] && [ -s resp.body ] && fail "204 with a body: $BODY"
reject 404 GET /api/streams/50
reject 404 DELETE /api/streams/50
reject_json 404 PATCH /api/streams/50 '{"name":"Ghost"}'
http GET /api/streams
assert_jq "50 is gone from the list" '[items[].id] | index(50) | not'
as_nobody
playlist "token=$TOKEN&ids=50" "deleted channel"
assert_eq "deleted channel not listed" "" "$(stream_ids)"
as_admin
json POST /api/streams \
    '{"id":50,"name":"Fifty again","source":"/srv/50.ts","ffmpeg_profile":"copy"}'
expect 201 "POST a deleted id again"

# ---------------------------------------------------------------------
note "API: every bad body is a 400 that changes nothing"
# ---------------------------------------------------------------------
ok='"source":"/srv/x.ts","ffmpeg_profile":"copy"'
for body in \
    '{"id":70,"name":"X",' \
    'not json' \
    '{"id":70,"name":"X","source":"/srv/x.ts","ffmpeg_profile":"copy"} trailing' \
    '{"id":70 "name":"X"}' \
    "{'id':70}" \
    "{'id':70,'name':'X','source':'/srv/x.ts','ffmpeg_profile':'copy'}" \
    "{\"id\":70,\"name\":\"X\",$ok,}" \
    "/* comment */ {\"id\":70,\"name\":\"X\",$ok}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"always_on\":TRUE}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"channel_number\":NaN}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"channel_number\":0x10}" \
    "{\"id\":70,\"name\":\"X\",$ok}{}" \
    '[1,2,3]' \
    '"just a string"' \
    '42' \
    'null' \
    "{\"id\":\"seventy\",\"name\":\"X\",$ok}" \
    "{\"id\":70.5,\"name\":\"X\",$ok}" \
    "{\"id\":true,\"name\":\"X\",$ok}" \
    "{\"id\":0,\"name\":\"X\",$ok}" \
    "{\"id\":-3,\"name\":\"X\",$ok}" \
    "{\"id\":2147483648,\"name\":\"X\",$ok}" \
    "{\"id\":1e30,\"name\":\"X\",$ok}" \
    "{\"id\":70,\"name\":42,$ok}" \
    "{\"id\":70,\"name\":[\"X\"],$ok}" \
    "{\"id\":70,\"name\":null,$ok}" \
    "{\"id\":70,\"name\":\"\",$ok}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"channel_number\":\"ten\"}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"channel_number\":-1}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"always_on\":\"yes\"}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"group\":{\"a\":1}}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"colour\":\"red\"}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"Name\":\"Y\"}" \
    "{\"id\":70,$ok}" \
    '{"id":70,"name":"X","ffmpeg_profile":"copy"}' \
    '{"id":70,"name":"X","source":"/srv/x.ts"}' \
    '{"id":70,"name":"X","source":"/srv/x.ts","ffmpeg_profile":"nosuch"}' \
    "{\"id\":70,\"name\":\"X\",$ok,\"regions_allowed\":[\"USA\"]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"regions_allowed\":[\"U1\"]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"regions_blocked\":[\"\"]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"regions_allowed\":[\"US\"],\"regions_blocked\":[\"US\"]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"schedule\":{\"start\":\"yesterday\"}}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"schedule\":{\"start\":\"2030-13-01T00:00:00Z\"}}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"schedule\":{\"start\":\"2030-01-02T00:00:00Z\",\"end\":\"2030-01-01T00:00:00Z\"}}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"next_programs\":[{\"title\":\"T\",\"start\":\"tomorrow\"}]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"next_programs\":[{\"start\":\"2030-01-01T00:00:00Z\"}]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"next_programs\":{\"title\":\"T\"}}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"adaptive_bitrates\":[{\"label\":\"No name\"}]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"adaptive_bitrates\":[{\"name\":\"a\"},{\"name\":\"a\"}]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"adaptive_bitrates\":[{\"name\":\"b\",\"ffmpeg_profile\":\"nosuch\"}]}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"output_format\":\"avi\"}" \
    "{\"id\":70,\"name\":\"X\",$ok,\"hwaccel\":{\"type\":\"voodoo\"}}" \
    "{\"id\":70,\"name\":\"$(printf 'x%.0s' $(seq 1 201))\",$ok}" \
    "$(printf '[%.0s' $(seq 1 200))"; do
	reject_json 400 POST /api/streams "$body"
done
# A NUL byte inside the body.
printf '{"id":70,"name":"X\000Y","source":"/s.ts","ffmpeg_profile":"copy"}' \
    >req.json
snap
REQ_BODY=req.json
http POST /api/streams
expect 400 "a NUL byte in the body"
unchanged "a NUL byte in the body"
reject 400 POST /api/streams
reject_json 400 POST /api/streams ''
for body in '{"name":42}' '{"colour":"red"}' '{"name":""}' \
    '{"ffmpeg_profile":"nosuch"}' '{"regions_blocked":["ZZZ"]}' \
    '{"schedule":{"start":"soon"}}' '{"id":"one"}' '[]' '{"name":' \
    '{"next_programs":[{"title":""}]}'; do
	reject_json 400 PATCH /api/streams/1 "$body"
done
for body in '{"source":"/srv/x.ts","ffmpeg_profile":"copy"}' \
    '{"name":"X","source":"/srv/x.ts","ffmpeg_profile":"copy","colour":1}' \
    '{"name":"X","source":"/srv/x.ts","ffmpeg_profile":"nosuch"}' \
    '{"name":"X",'; do
	reject_json 400 PUT /api/streams/1 "$body"
done

note "413 for a body over max_body_size (2048)"
big=$(printf 'y%.0s' $(seq 1 3000))
reject_json 413 POST /api/streams \
    "{\"id\":71,\"name\":\"Big\",$ok,\"description\":\"$big\"}"
reject_json 413 PUT /api/streams/1/programs "[{\"title\":\"$big\"}]"
reject 413 POST /api/streams CONTENT_LENGTH=100000000 \
    CONTENT_TYPE=application/json
# Just under the limit is fine as far as size goes.
mid=$(printf 'z%.0s' $(seq 1 1800))
json POST /api/streams "{\"id\":72,\"name\":\"Mid\",$ok,\"description\":\"$mid\"}"
expect 201 "a body under the limit"
http DELETE /api/streams/72

# ---------------------------------------------------------------------
note "programmes (G2)"
# ---------------------------------------------------------------------
json PUT /api/streams/3/programs \
    '[{"title":"Late Show","start":"2030-01-02T22:00:00Z","end":"2030-01-02T23:00:00Z","description":"Talk"},{"title":"Only a title"}]'
expect 200 "PUT programs"
http GET /api/streams/3/programs
expect 200 "GET programs"
assert_jq "programs replaced" '[items[].title] == ["Late Show", "Only a title"]'
assert_jq "programme fields" \
    'items[0].description == "Talk" and (items[0].start | tostring |
    test("2030-01-02T22:00:00Z|1893621600"))'
as_nobody
xmltv "ids=3" "guide after PUT programs"
assert_eq "new programme in the guide" "Late Show" \
    "$(xpath 'string(//programme[@channel="three.amps"][1]/title)')"
assert_eq "new programme start" "20300102220000 +0000" \
    "$(xpath 'string(//programme[@channel="three.amps"][1]/@start)')"
playlist "token=$TOKEN&ids=3" "playlist after PUT programs"
assert_match "AMP-NEXT follows" '^#EXTREM:AMP-NEXT.*Late Show' "$BODY"
as_admin
for body in '{"title":"Not a list"}' '[{"start":"2030-01-01T00:00:00Z"}]' \
    '[{"title":""}]' '[{"title":"T","start":"noon"}]' \
    '[{"title":"T","start":"2030-01-02T00:00:00Z","end":"2030-01-01T00:00:00Z"}]' \
    '[{"title":"T","colour":1}]' '[{"title":42}]' '[42]' '[{"title":"T"},' \
    'nope'; do
	reject_json 400 PUT /api/streams/3/programs "$body"
done
reject_json 404 PUT /api/streams/999/programs '[{"title":"T"}]'
json PUT /api/streams/3/programs '[]'
expect 200 "PUT programs []"
http GET /api/streams/3/programs
assert_jq "programs cleared" '[items[]] == []'

# ---------------------------------------------------------------------
note "path traversal and odd paths are 4xx JSON"
# ---------------------------------------------------------------------
long=$(printf 'a%.0s' $(seq 1 8000))
for uri in '/api/streams/../../etc/passwd' \
    '/api/streams/%2e%2e/%2e%2e/etc/passwd' '/api/streams/%2E%2E' \
    '/api/streams/..%2f..%2fetc%2fpasswd' '/api/streams/1%00' \
    '/api/streams/1%00/programs' '/api/streams/%00' \
    '/playlist.m3u/..' '/api/streams/1/../../../etc/passwd' \
    '/%2e%2e/%2e%2e/etc/passwd' "/api/streams/$long" "/$long" \
    '/api/streams/1/programs/extra' '/api//streams' '/api/streams/1%2f2' \
    '/api/streams/%' '/api/streams/%g1' "/api/streams/1?$long=%zz"; do
	reject 4xx GET "$uri"
	reject 4xx DELETE "$uri"
done

# ---------------------------------------------------------------------
note "status (A3): every channel idle until streamd runs"
# ---------------------------------------------------------------------
as_viewer
http GET /api/streams
nchan=$(jqr 'items | length')
http GET /api/status
expect 200 "status"
header_is Content-Type 'application/json(;.*)?'
assert_jq "status lists every channel" \
    "[items[].id] | length == $nchan and (unique | length == $nchan)"
assert_jq "every channel idle" \
    '[items[].state] | all(. == "idle")'
http GET /api/streams/1/status
expect 200 "status of 1"
assert_jq "status of 1" '(.id // .channel_id) == 1 and .state == "idle"'

note "metrics: Prometheus text format"
http GET /metrics
expect 200 "metrics"
header_is Content-Type 'text/plain(;.*)?'
tr -d '\r' <resp.body | awk '
/^$/ { next }
/^# (HELP|TYPE) / {
	if ($2 == "TYPE" && $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) {
		print "bad TYPE: " $0; bad = 1
	}
	next
}
/^#/ { next }
{
	if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? +(-?[0-9.]+([eE][-+]?[0-9]+)?|NaN|[-+]Inf)( +-?[0-9]+)?$/) {
		print "bad sample: " $0; bad = 1
	}
	n++
}
END { if (n == 0) { print "no samples"; bad = 1 } exit bad }' >metrics.err ||
    fail "metrics not in the text format: $(head -n 5 metrics.err)"
for re in '^amps_[a-z_]*channels[a-z_]*(\{[^}]*\})? [0-9]' \
    '^amps_[a-z_]*uptime[a-z_]*(\{[^}]*\})? [0-9]' \
    '^# TYPE amps_[a-z_]*requests[a-z_]* counter$' \
    '^amps_[a-z_]*(pipelines|viewers)[a-z_]*(\{[^}]*\})? [0-9]'; do
	assert_match "a metric like /$re/" "$re" "$BODY"
done
assert_match "the channel gauge counts the catalogue" \
    "^amps_channels(\\{\\})? $nchan\$" "$BODY"
# Operations: recordings by state, guide sources, the webhook outbox
# (api.conf has no webhooks: every count is there, at 0).
assert_match "recordings by state" '^amps_recordings\{state="recording"\} 0$' "$BODY"
for st in pending delivered failed; do
	assert_match "webhook events $st" "^amps_webhook_events\\{state=\"$st\"\\} 0\$" "$BODY"
done
# A plain CGI process serves one request: the request counters are
# checked in leak.sh, where one process serves many.

# ---------------------------------------------------------------------
note "admin save (A6): amps.conf written back, .bak kept, still valid"
# ---------------------------------------------------------------------
as_viewer
cp amps.conf conf.before
reject 403 POST /api/admin/save
cmp -s amps.conf conf.before || fail "a refused save changed amps.conf"
[ ! -e amps.conf.bak ] || fail "a refused save left amps.conf.bak"
as_admin
http POST /api/admin/save
case $CODE in
200|204) ;;
*)	fail "POST /api/admin/save: $STATUS: $BODY" ;;
esac
[ -f amps.conf.bak ] || fail "no amps.conf.bak after the save"
cmp -s amps.conf.bak conf.before || fail "amps.conf.bak is not the old file"
cmp -s amps.conf conf.before && fail "amps.conf did not change"
grep -q 'Fifty again' amps.conf || fail "the saved file lacks stream 50"
grep -q 'Patched description' amps.conf || fail "the saved file lacks the PATCH"
if grep -q "$TOKEN\\|$ADMIN\\|$VIEWER" amps.conf; then
	fail "the saved file holds a secret in plain text"
fi
run_amps -c "$CONF" check-config
expect_rc "check-config on the saved file" 0
run_amps -c "$CONF" init
expect_rc "init on the saved file" 0
assert_match "the saved file matches the DB" \
    ' 0 added, 0 updated, 0 removed' "$OUT"
as_nobody
playlist "token=$TOKEN" "playlist after the save"
assert_match "the token still works after the save" '/stream/50' "$BODY"

# ---------------------------------------------------------------------
note "auth off: everything open"
# ---------------------------------------------------------------------
mkdir open
sed '/^auth = {/,/^};/d' "$AMPS_TEST_SRCDIR/blackbox/fixtures/api.conf" \
    >open/amps.conf
printf 'auth = { enabled = false; };\n' >>open/amps.conf
CONF=$T/open/amps.conf DB=$T/open/amps.db
run_amps -c "$CONF" init
expect_rc "init of the open config" 0
as_nobody
playlist "" "open playlist"
assert_eq "open playlist" "1 3 11 901" "$(stream_ids)"
assert_no_match "no token in open URLs" 'token=' "$(grep /stream/ resp.body)"
http GET /epg.xml
expect 200 "open guide"
http GET /metrics
expect 200 "open metrics"
json POST /api/streams \
    '{"id":80,"name":"Open","source":"/srv/80.ts","ffmpeg_profile":"copy"}'
expect 201 "open POST"
json PATCH /api/streams/80 '{"group":"Open"}'
expect 200 "open PATCH"
http DELETE /api/streams/80
case $CODE in 200|204) ;; *) fail "open DELETE: $STATUS" ;; esac
# A wrong credential with auth off is not an error.
http GET /api/streams "HTTP_X_AMPS_TOKEN=wrong-token-000"
expect 200 "auth off ignores credentials"
reject_json 400 POST /api/streams '{"id":81,"name":"X"}'

echo "api: ok"
