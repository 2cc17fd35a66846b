# The HTTP checks that the integration tests run through each real web
# server (lighttpd.sh, apache.sh): the same requests with curl against a
# base URL, so that both servers are held to one behaviour.  Sourced after
# tests/blackbox/lib.sh, not run.
#
#   hc_free_port          prints a TCP port free on 127.0.0.1
#   hc_setup DIR PORT [MEDIA]
#                         writes DIR/amps.conf (auth on: a shared token, a
#                         viewer key and an admin key; 30 channels with
#                         programmes over the coming hours) and the static
#                         media files under MEDIA (default DIR/var/media)
#   hc_run BASE           runs every check against BASE
#                         ("http://127.0.0.1:PORT")
#
# The checks: health; the playlist (type, ETag and 304, gzip, HEAD, the
# token and the Host carried into stream URLs); the guide (XMLTV valid by
# xmllint against the DTD and by tv_validate_file; JSON); the stream API
# with each kind of credential (401, 403 for a viewer writing, 201 with
# Location then DELETE for an admin, Authorization: Bearer passed on by
# the server); 404 and 405 as JSON; status and metrics; and media files
# served by the web server itself with their MIME types and cache headers.

HC_TOKEN=integration-token-1234
HC_VIEWER=integration-viewer-key-5678
HC_ADMIN=integration-admin-key-9abc
HC_DTD=/usr/share/xmltv/xmltv.dtd
HC_CHANNELS=30

hc_free_port()
{
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' && return 0
	fi
	# No python3: a port in a range that nothing answers on.
	p=$(( 20000 + $$ % 20000 ))
	while [ "$p" -lt 65000 ]; do
		hc_rc=0
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$p/" ||
		    hc_rc=$?
		if [ "$hc_rc" -eq 7 ]; then	# connection refused
			echo "$p"
			return 0
		fi
		p=$((p + 7))
	done
	fail "no free port"
}

# iso SECONDS: the time SECONDS from now, as ISO 8601 UTC.
hc_iso()
{
	date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ
}

hc_setup()
{
	hc_dir=$1
	hc_port=$2
	HC_MEDIA=${3:-$1/var/media}
	HC_CONF=$hc_dir/amps.conf
	{
		cat <<EOF
server = {
	listen = "127.0.0.1:$hc_port";
	database = "var/amps.db";
	media_root = "$HC_MEDIA";
	control_socket = "var/streamd.sock";
};
auth = {
	enabled = true;
	token = "$HC_TOKEN";
	keys = (
		{ name = "tv"; key = "$HC_VIEWER"; role = "viewer"; },
		{ name = "ops"; key = "$HC_ADMIN"; role = "admin"; }
	);
};
streams = (
EOF
		i=1
		while [ "$i" -le "$HC_CHANNELS" ]; do
			[ "$i" -gt 1 ] && echo ","
			cat <<EOF
	{
		id = $i;
		name = "Channel $i & Co";
		source = "http://example.com/live/$i.ts";
		ffmpeg_profile = "copy";
		epg_id = "ch$i.example.com";
		group = "$([ $((i % 2)) -eq 0 ] && echo Sport || echo News)";
		logo = "http://example.com/logo/$i.png";
		channel_number = $i;
		next_programs = (
			{ title = "Early <show> $i"; start = "$(hc_iso 3600)"; end = "$(hc_iso 7200)"; description = "First & foremost"; },
			{ title = "Late show $i"; start = "$(hc_iso 7200)"; end = "$(hc_iso 10800)"; }
		);
	}
EOF
			i=$((i + 1))
		done
		echo ");"
	} >"$HC_CONF"

	mkdir -p "$HC_MEDIA/hls/1" "$HC_MEDIA/dash/1" "$HC_MEDIA/rec" ||
	    fail "cannot create $HC_MEDIA"
	cat >"$HC_MEDIA/hls/1/index.m3u8" <<'EOF'
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:2.000,
seg-7.ts
EOF
	# A few TS packets: sync byte 0x47 then padding.
	i=0
	while [ "$i" -lt 20 ]; do
		printf 'G'
		head -c 187 /dev/zero
		i=$((i + 1))
	done >"$HC_MEDIA/hls/1/seg-7.ts"
	printf 'adts' >"$HC_MEDIA/hls/1/audio-7.aac"
	cat >"$HC_MEDIA/dash/1/manifest.mpd" <<'EOF'
<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"/>
EOF
	printf 'init' >"$HC_MEDIA/dash/1/init.mp4"
	printf 'moof' >"$HC_MEDIA/dash/1/chunk-7.m4s"
	printf 'recording' >"$HC_MEDIA/rec/show.mp4"
	printf 'secret' >"$HC_MEDIA/hls/1/.index.m3u8.tmp"
}

# hc_req METHOD PATH [CURL ARGS...]: one request to HC_BASE.  Sets CODE;
# the headers are in HC_H, the body in HC_B.
hc_req()
{
	hc_m=$1
	hc_p=$2
	shift 2
	HC_H=$TMPDIR_TEST/hc.headers
	HC_B=$TMPDIR_TEST/hc.body
	rm -f "$HC_H" "$HC_B"
	if [ "$hc_m" = HEAD ]; then
		# curl --head reads no body (one that a server sent anyway
		# would be taken for the next answer: the web servers drop
		# it); what it writes to -o is the headers again.
		set -- --head "$@"
	else
		set -- -X "$hc_m" "$@"
	fi
	CODE=$(curl -sS --max-time 30 -o "$HC_B" -D "$HC_H" \
	    -w '%{http_code}' "$@" "$HC_BASE$hc_p") ||
	    fail "curl $hc_m $hc_p failed (exit $?)"
	if [ "$hc_m" = HEAD ] || [ ! -f "$HC_B" ]; then
		: >"$HC_B"
	fi
}

# hc_hdr NAME: the value of the last NAME header of the last hc_req.
hc_hdr()
{
	tr -d '\r' <"$HC_H" | grep -i "^$1:" | tail -n 1 | sed 's/^[^:]*:[ 	]*//'
}

# hc_expect WHAT CODE: the status of the last hc_req.
hc_expect()
{
	[ "$CODE" = "$2" ] ||
	    fail "$1: HTTP $CODE, expected $2; headers: $(tr -d '\r' <"$HC_H" | tr '\n' '|') body: $(head -c 400 "$HC_B")"
}

hc_body()
{
	cat "$HC_B"
}

# hc_json_error WHAT: the last answer is a JSON {"error": "..."}.
hc_json_error()
{
	assert_match "$1: content type" '^application/json' "$(hc_hdr Content-Type)"
	assert_match "$1: error body" '^\{ *"error" *: *"[^"]+' "$(hc_body)"
	hc_json_valid "$1"
}

# hc_json_valid WHAT: the body parses as JSON (with jq, where installed).
hc_json_valid()
{
	if command -v jq >/dev/null 2>&1; then
		jq -e . "$HC_B" >/dev/null 2>&1 ||
		    fail "$1: the body is not JSON: $(head -c 400 "$HC_B")"
	fi
}

# hc_static PATH FILE TYPE CACHE: PATH is FILE, served by the web server
# itself (the bytes of the file, the MIME type and the cache header; the
# responder would answer a JSON 404 or 401 for it, since these requests
# carry no credential).
hc_static()
{
	hc_req GET "$1"
	hc_expect "static $1" 200
	cmp -s "$HC_B" "$2" || fail "static $1: not the bytes of $2"
	assert_eq "static $1: content type" "$3" "$(hc_hdr Content-Type)"
	assert_eq "static $1: cache control" "$4" "$(hc_hdr Cache-Control)"
	assert_eq "static $1: CORS" "*" \
	    "$(hc_hdr Access-Control-Allow-Origin)"
	[ -n "$(hc_hdr ETag)$(hc_hdr Last-Modified)" ] ||
	    fail "static $1: neither ETag nor Last-Modified"
	hc_req HEAD "$1"
	hc_expect "static HEAD $1" 200
	assert_eq "static HEAD $1: length" "$(wc -c <"$2" | tr -d ' ')" \
	    "$(hc_hdr Content-Length)"
	assert_eq "static HEAD $1: content type" "$3" "$(hc_hdr Content-Type)"
}

hc_run()
{
	HC_BASE=$1
	T=$TMPDIR_TEST
	tok="token=$HC_TOKEN"

	note "health: public, JSON"
	hc_req GET /api/health
	hc_expect "health" 200
	assert_match "health type" '^application/json' "$(hc_hdr Content-Type)"
	assert_match "health body" '"status" *: *"ok"' "$(hc_body)"
	hc_json_valid "health"
	hc_req HEAD /api/health
	hc_expect "HEAD health" 200
	assert_match "HEAD health type" '^application/json' \
	    "$(hc_hdr Content-Type)"

	note "auth: 401 without a credential or with a wrong one"
	for p in /playlist.m3u /epg.xml /api/streams /api/epg; do
		hc_req GET "$p"
		hc_expect "$p without token" 401
		hc_json_error "$p without token"
	done
	hc_req GET "/playlist.m3u?token=wrong-token-0000"
	hc_expect "wrong ?token=" 401
	hc_req GET /api/streams -H "X-Amps-Token: wrong-token-0000"
	hc_expect "wrong X-Amps-Token" 401
	hc_req GET /api/streams -H "Authorization: Bearer wrong-token-0000"
	hc_expect "wrong Bearer" 401

	note "playlist: ?token=, type, stream URLs from the Host header"
	hc_req GET "/playlist.m3u?$tok"
	hc_expect "playlist" 200
	assert_eq "playlist type" "audio/x-mpegurl; charset=utf-8" \
	    "$(hc_hdr Content-Type)"
	assert_eq "playlist first line" "#EXTM3U" \
	    "$(head -n 1 "$HC_B" | cut -c1-7)"
	assert_eq "playlist entries" "$HC_CHANNELS" \
	    "$(grep -c '^#EXTINF' "$HC_B")"
	assert_match "stream URL: base from Host, signed" \
	    "^$HC_BASE/m/[0-9]+\\.-\\.[0-9a-f]{32}/stream/1\$" "$(hc_body)"
	assert_no_match "no token in media URLs" "/stream/.*token=" "$(hc_body)"
	cp "$HC_B" "$T/playlist.plain"
	etag=$(hc_hdr ETag)
	[ -n "$etag" ] || fail "playlist: no ETag"

	note "playlist: If-None-Match -> 304"
	hc_req GET "/playlist.m3u?$tok" -H "If-None-Match: $etag"
	hc_expect "playlist If-None-Match" 304
	assert_eq "304 body" 0 "$(wc -c <"$HC_B")"
	hc_req GET "/playlist.m3u?$tok" -H 'If-None-Match: "other"'
	hc_expect "playlist other If-None-Match" 200
	# The responder caches the answer; lighttpd sends the cached copy
	# itself (X-Sendfile).  It must be the same bytes.
	cmp -s "$HC_B" "$T/playlist.plain" ||
	    fail "playlist, asked again: not the same bytes ($(wc -c <"$HC_B") bytes)"
	assert_eq "playlist asked again: ETag" "$etag" "$(hc_hdr ETag)"

	note "playlist: gzip when accepted"
	hc_req GET "/playlist.m3u?$tok" --compressed
	hc_expect "playlist gzip" 200
	assert_eq "playlist Content-Encoding" gzip "$(hc_hdr Content-Encoding)"
	assert_match "playlist Vary" 'Accept-Encoding' "$(hc_hdr Vary)"
	cmp -s "$HC_B" "$T/playlist.plain" ||
	    fail "playlist gzip: the decoded body differs from the plain one"
	hc_req GET "/playlist.m3u?$tok" --compressed
	assert_eq "playlist gzip again" gzip "$(hc_hdr Content-Encoding)"
	cmp -s "$HC_B" "$T/playlist.plain" ||
	    fail "playlist gzip, asked again: the decoded body differs"
	hc_req GET "/playlist.m3u?$tok"
	assert_eq "no gzip unless asked" "" "$(hc_hdr Content-Encoding)"
	cmp -s "$HC_B" "$T/playlist.plain" ||
	    fail "playlist without gzip after gzip: not the same bytes"

	note "playlist: HEAD, .m3u8, the other credentials"
	hc_req HEAD "/playlist.m3u?$tok"
	hc_expect "HEAD playlist" 200
	assert_eq "HEAD playlist type" "audio/x-mpegurl; charset=utf-8" \
	    "$(hc_hdr Content-Type)"
	hc_req GET "/playlist.m3u8?$tok"
	hc_expect "playlist.m3u8" 200
	assert_eq "playlist.m3u8 type" "application/vnd.apple.mpegurl" \
	    "$(hc_hdr Content-Type)"
	assert_eq "playlist.m3u8 first line" "#EXTM3U" \
	    "$(head -n 1 "$HC_B" | cut -c1-7)"
	hc_req GET /playlist.m3u -H "X-Amps-Token: $HC_TOKEN"
	hc_expect "X-Amps-Token" 200
	hc_req GET /playlist.m3u -H "X-Api-Key: $HC_VIEWER"
	hc_expect "X-Api-Key viewer" 200
	hc_req GET /playlist.m3u -H "Authorization: Bearer $HC_VIEWER"
	hc_expect "Authorization: Bearer viewer (passed on by the server)" 200
	hc_req GET "/playlist.m3u?$tok&group=Sport"
	hc_expect "playlist group=Sport" 200
	assert_eq "group=Sport entries" "$((HC_CHANNELS / 2))" \
	    "$(grep -c '^#EXTINF' "$HC_B")"

	note "guide: XMLTV valid (xmllint --dtdvalid, tv_validate_file)"
	hc_req GET "/epg.xml?$tok"
	hc_expect "epg.xml" 200
	assert_match "epg.xml type" '^(application|text)/xml' \
	    "$(hc_hdr Content-Type)"
	cp "$HC_B" "$T/epg.xml"
	xmllint --noout --dtdvalid "$HC_DTD" "$T/epg.xml" \
	    >"$T/xmllint.out" 2>&1 ||
	    fail "xmllint rejects the guide: $(head -c 2000 "$T/xmllint.out")"
	tv_validate_file --dtd-file "$HC_DTD" "$T/epg.xml" \
	    >"$T/tvv.out" 2>&1 ||
	    fail "tv_validate_file rejects the guide: $(head -c 2000 "$T/tvv.out")"
	assert_eq "epg channels" "$HC_CHANNELS" \
	    "$(grep -c '<channel id=' "$T/epg.xml")"
	assert_eq "epg programmes" "$((HC_CHANNELS * 2))" \
	    "$(grep -c '<programme ' "$T/epg.xml")"
	hc_req GET "/epg.xml?$tok"
	hc_expect "epg.xml again" 200
	cmp -s "$HC_B" "$T/epg.xml" ||
	    fail "epg.xml, asked again: not the same bytes ($(wc -c <"$HC_B") bytes)"
	hc_req GET "/epg.xml?$tok" --compressed
	hc_expect "epg.xml gzip" 200
	assert_eq "epg.xml Content-Encoding" gzip "$(hc_hdr Content-Encoding)"
	cmp -s "$HC_B" "$T/epg.xml" ||
	    fail "epg.xml gzip: the decoded body differs from the plain one"
	etag=$(hc_hdr ETag)
	[ -n "$etag" ] || fail "epg.xml: no ETag"
	hc_req GET "/epg.xml?$tok" --compressed -H "If-None-Match: $etag"
	hc_expect "epg.xml If-None-Match" 304
	assert_match "304 Vary" '^Accept-Encoding' "$(hc_hdr Vary)"
	# The gzip body is another representation: its tag does not
	# revalidate the plain one (a cache would hand gzip to a client that
	# cannot read it).
	hc_req GET "/epg.xml?$tok" -H "If-None-Match: $etag"
	hc_expect "epg.xml gzip tag, plain request" 200
	[ "$(hc_hdr ETag)" != "$etag" ] ||
	    fail "epg.xml: one ETag for the gzip and the plain body"

	hc_req GET "/api/epg?$tok"
	hc_expect "api/epg" 200
	assert_match "api/epg type" '^application/json' "$(hc_hdr Content-Type)"
	assert_match "api/epg has the programmes" 'Late show 1' "$(hc_body)"
	hc_json_valid "api/epg"
	cp "$HC_B" "$T/epg.json"
	hc_req GET "/api/epg?$tok"
	cmp -s "$HC_B" "$T/epg.json" ||
	    fail "api/epg, asked again: not the same bytes"

	note "stream API: list, one, programmes, status"
	hc_req GET /api/streams -H "X-Amps-Token: $HC_TOKEN"
	hc_expect "api/streams" 200
	assert_match "api/streams type" '^application/json' "$(hc_hdr Content-Type)"
	assert_match "api/streams lists channel 1" '"id" *: *1[,}]' "$(hc_body)"
	hc_json_valid "api/streams"
	if command -v jq >/dev/null 2>&1; then
		assert_eq "api/streams count" "$HC_CHANNELS" \
		    "$(jq 'if type == "array" then length else .streams | length end' "$HC_B")"
	fi
	hc_req GET "/api/streams/2?$tok"
	hc_expect "api/streams/2" 200
	assert_match "api/streams/2 name" '"name" *: *"Channel 2 & Co"' "$(hc_body)"
	hc_req GET "/api/streams/2/programs?$tok"
	hc_expect "api/streams/2/programs" 200
	assert_match "programs" 'Late show 2' "$(hc_body)"
	hc_req GET "/api/streams/2/status?$tok"
	hc_expect "api/streams/2/status" 200
	hc_json_valid "stream status"
	hc_req GET "/api/status?$tok"
	hc_expect "api/status" 200
	hc_json_valid "api/status"
	hc_req GET "/metrics?$tok"
	hc_expect "metrics" 200
	assert_match "metrics type" '^text/plain' "$(hc_hdr Content-Type)"
	assert_match "metrics lines" '^amps_[a-z_]+' "$(hc_body)"

	note "stream API: viewers read, only admins write"
	body='{"id": 500, "name": "Posted", "source": "http://example.com/p.ts", "ffmpeg_profile": "copy"}'
	hc_req POST /api/streams -H "X-Api-Key: $HC_VIEWER" \
	    -H 'Content-Type: application/json' --data-binary "$body"
	hc_expect "POST by a viewer (X-Api-Key)" 403
	hc_json_error "POST by a viewer"
	hc_req POST /api/streams -H "Authorization: Bearer $HC_VIEWER" \
	    -H 'Content-Type: application/json' --data-binary "$body"
	hc_expect "POST by a viewer (Bearer)" 403
	hc_req POST /api/streams \
	    -H 'Content-Type: application/json' --data-binary "$body"
	hc_expect "POST without a credential" 401
	hc_req POST /api/streams -H "Authorization: Bearer $HC_ADMIN" \
	    -H 'Content-Type: application/json' --data-binary "$body"
	hc_expect "POST by an admin" 201
	assert_match "Location" '(^|/)api/streams/500$' "$(hc_hdr Location)"
	assert_match "POST answer" '"id" *: *500[,}]' "$(hc_body)"
	hc_req POST /api/streams -H "X-Api-Key: $HC_ADMIN" \
	    -H 'Content-Type: application/json' --data-binary "$body"
	hc_expect "POST of a duplicate id" 409
	hc_json_error "duplicate"
	hc_req GET "/api/streams/500?$tok"
	hc_expect "GET the new stream" 200
	hc_req GET "/playlist.m3u?$tok" -H "If-None-Match: $etag"
	hc_expect "playlist after a write" 200
	hc_req DELETE /api/streams/500 -H "X-Api-Key: $HC_VIEWER"
	hc_expect "DELETE by a viewer" 403
	hc_req DELETE /api/streams/500 -H "X-Api-Key: $HC_ADMIN"
	case $CODE in
	200|204) ;;
	*) hc_expect "DELETE by an admin" 204 ;;
	esac
	hc_req GET "/api/streams/500?$tok"
	hc_expect "GET the deleted stream" 404
	hc_json_error "deleted stream"

	note "404 and 405 as JSON"
	hc_req GET "/api/no-such-thing?$tok"
	hc_expect "unknown route" 404
	hc_json_error "unknown route"
	hc_req GET "/api/streams/9999?$tok"
	hc_expect "unknown stream" 404
	hc_json_error "unknown stream"
	hc_req POST /api/health --data-binary ""
	hc_expect "POST health" 405
	hc_json_error "POST health"
	assert_match "Allow" 'GET' "$(hc_hdr Allow)"
	hc_req DELETE "/playlist.m3u?$tok"
	hc_expect "DELETE playlist" 405
	hc_json_error "DELETE playlist"

	note "media: static files from the web server, types and caching"
	# With auth on, the responder (the web server's FastCGI authorizer)
	# wants a credential for media too; then the web server sends the
	# file itself.
	M=$HC_MEDIA
	hc_static "/hls/1/index.m3u8?$tok" "$M/hls/1/index.m3u8" \
	    application/vnd.apple.mpegurl no-cache
	hc_static "/hls/1/seg-7.ts?$tok" "$M/hls/1/seg-7.ts" \
	    video/mp2t "public, max-age=31536000, immutable"
	hc_static "/hls/1/audio-7.aac?$tok" "$M/hls/1/audio-7.aac" \
	    audio/aac "public, max-age=31536000, immutable"
	hc_static "/dash/1/manifest.mpd?$tok" "$M/dash/1/manifest.mpd" \
	    application/dash+xml no-cache
	hc_static "/dash/1/chunk-7.m4s?$tok" "$M/dash/1/chunk-7.m4s" \
	    video/iso.segment "public, max-age=31536000, immutable"
	hc_static "/dash/1/init.mp4?$tok" "$M/dash/1/init.mp4" video/mp4 \
	    no-cache
	hc_static "/rec/show.mp4?$tok" "$M/rec/show.mp4" video/mp4 no-cache
	hc_req GET /hls/1/index.m3u8 -H "X-Amps-Token: $HC_TOKEN"
	hc_expect "static playlist, token in a header" 200
	etag=$(hc_hdr ETag)
	[ -n "$etag" ] || fail "static playlist: no ETag"
	hc_req GET "/hls/1/index.m3u8?$tok" -H "If-None-Match: $etag"
	hc_expect "static If-None-Match" 304

	note "media: refused without credentials, with a JSON body"
	for p in /hls/1/index.m3u8 /hls/1/seg-7.ts /dash/1/manifest.mpd \
	    /dash/1/chunk-7.m4s /rec/show.mp4; do
		hc_req GET "$p"
		hc_expect "$p without a credential" 401
		hc_json_error "$p without a credential"
		hc_req GET "$p?token=wrong-token-0000"
		hc_expect "$p with a wrong token" 401
	done
	hc_req GET "/m/1.-.00000000000000000000000000000000/hls/1/seg-7.ts"
	hc_expect "a forged signed URL" 401
	hc_json_error "a forged signed URL"

	hc_req GET "/hls/1/missing-7.ts?$tok"
	hc_expect "missing media file" 404
	hc_req GET "/hls/987654/seg-1.ts?$tok"
	hc_expect "media of no channel" 404
	hc_json_error "media of no channel"
	hc_req GET "/hls/1/.index.m3u8.tmp?$tok"
	case $CODE in
	403|404) ;;
	*) fail "dot file under /hls/: HTTP $CODE, expected 403 or 404" ;;
	esac
	hc_req GET "/hls/1/?$tok"
	case $CODE in
	403|404) ;;
	*) fail "folder /hls/1/: HTTP $CODE, expected 403 or 404" ;;
	esac
	assert_no_match "no listing" 'seg-7' "$(hc_body)"
	return 0
}
