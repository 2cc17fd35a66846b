# Black-box test of guide ingestion (G3) through the real programs: amps
# epg-refresh (exit status, summary lines), amps.fcgi as a plain CGI
# program (GET /api/epg/sources, POST /api/epg/sources/NAME/refresh,
# /epg.xml) and streamd's refresher, against guides on disk and from a
# small HTTP origin (xmltvgen.py serve) that answers with gzip, ETag and
# Last-Modified, 304 to conditional requests, slowly, endlessly or 404.
# A refresh that fails must keep the guide it had, row for row.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

for prog in python3 sqlite3 jq xmllint gzip; do
	command -v "$prog" >/dev/null 2>&1 ||
	    skip "$prog is not installed (tools/install-deps installs it)"
done
DTD=/usr/share/xmltv/xmltv.dtd
[ -r "$DTD" ] || skip "$DTD is missing (xmltv-util installs it)"
FCGI=$top_builddir/cgi/amps.fcgi
STREAMD=$top_builddir/streamd/streamd
[ -x "$FCGI" ] || fail "$FCGI is not built"
[ -x "$STREAMD" ] || fail "$STREAMD is not built"
GEN=$AMPS_TEST_SRCDIR/blackbox/xmltvgen.py

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"
mkdir -p www

ORIGIN=
STREAMD_PID=
stop_all()
{
	s=$?
	[ -z "$ORIGIN" ] || kill "$ORIGIN" 2>/dev/null
	[ -z "$STREAMD_PID" ] || kill "$STREAMD_PID" 2>/dev/null
	(exit "$s")
	cleanup
}
trap stop_all EXIT

# The guides: the same 3 x 4 for every source, ids ch1.amps..ch3.amps
# and display-names "Channel 1".."Channel 3"; a second one that differs.
python3 "$GEN" guide --channels 3 --programmes 4 -o www/guide.xml ||
    fail "xmltvgen.py guide"
python3 "$GEN" guide --channels 3 --programmes 6 -o www/other.xml
gzip -c www/other.xml >www/other.xml.gz
gzip -c www/guide.xml >local.xml	# gzip, whatever the name says
head -c 2000 www/guide.xml >bad.xml	# cut in the middle

python3 "$GEN" serve --dir www --port-file port --log origin.log &
ORIGIN=$!
i=0
while [ ! -s port ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "the origin did not start"
	sleep 0.1
done
PORT=$(cat port)
URL=http://127.0.0.1:$PORT

# Channels: 1 and 2 by epg_id; 3 has none but a tvg_name; 4 matches
# nothing.
cat >amps.conf <<CONF
server = {
	database = "amps.db";
	media_root = "media";
	epg_timeout = 2;
	epg_max_size = 1000000;
};
streams = (
	{ id = 1; name = "One"; source = "/srv/1.ts"; ffmpeg_profile = "copy";
	  epg_id = "CH1.amps "; },
	{ id = 2; name = "Two"; source = "/srv/2.ts"; ffmpeg_profile = "copy";
	  epg_id = "ch2.amps"; tvg_name = "CHANNEL 2 "; },
	{ id = 3; name = "Three"; source = "/srv/3.ts"; ffmpeg_profile = "copy";
	  tvg_name = " channel 3"; },
	{ id = 4; name = "Four"; source = "/srv/4.ts"; ffmpeg_profile = "copy"; }
);
epg_sources = (
	{ name = "local"; path = "local.xml"; },
	{ name = "web"; url = "$URL/guide.xml"; match_on = "tvg_name"; },
	{ name = "flaky"; url = "$URL/raw/guide.xml"; },
	{ name = "bad"; path = "bad.xml"; },
	{ name = "auto"; url = "$URL/raw/other.xml.gz";
	  refresh_interval_minutes = 60; }
);
webhooks = ( { name = "sink"; url = "http://127.0.0.1:9/"; } );
CONF
run_amps -c amps.conf init
expect_rc "init" 0

# guide NAME: the source's rows, in order (the guide as it stands).
guide()
{
	sqlite3 amps.db "SELECT channel_id, title, start, \"end\", sub_title,
	    description, categories, episode_num, icon FROM programmes
	    WHERE source = '$1' ORDER BY id"
}
col()
{
	sqlite3 amps.db "SELECT $2 FROM epg_sources WHERE name = '$1'"
}

note "amps epg-refresh NAME: a local gzip file, matched by epg_id"
run_amps -c amps.conf epg-refresh local
expect_rc "epg-refresh local" 0
assert_match "summary" \
    '^local: 8 programmes for 2 channels, 0 skipped, 4 unmatched, [0-9.]+ s$' \
    "$OUT"
assert_eq "nothing on stderr" "" "$ERR"
assert_eq "rows by channel" "1|4
2|4" "$(sqlite3 amps.db "SELECT channel_id, count(*) FROM programmes
    WHERE source = 'local' GROUP BY channel_id")"
assert_eq "a stored programme" \
    "Show 1 on 2|Part 2|[\"Category 1\",\"Genre & more\"]|S01E02|http://img.example/2/1.jpg" \
    "$(sqlite3 amps.db "SELECT title, sub_title, categories, episode_num,
    icon FROM programmes WHERE source = 'local' AND channel_id = 2
    AND position = 5")"
assert_eq "status row" "ok|8|2|0|1" "$(col local "last_status, programmes,
    channels, skipped, last_success = last_refresh")"

note "a URL: gzip Content-Encoding, ETag kept, tvg_name matching"
run_amps -c amps.conf epg-refresh web
expect_rc "epg-refresh web" 0
assert_match "summary" '^web: 8 programmes for 2 channels' "$OUT"
assert_eq "tvg_name rows" "2|4
3|4" "$(sqlite3 amps.db "SELECT channel_id, count(*) FROM programmes
    WHERE source = 'web' GROUP BY channel_id")"
assert_match "asked for gzip" '"path": "/guide.xml".*"inm": null.*"ae": "[^"]*gzip' \
    "$(cat origin.log)"
ETAG=$(col web etag)
assert_match "ETag stored" '^"[0-9a-f]{16}"$' "$ETAG"
assert_eq "Last-Modified stored" "Tue, 01 Jan 2030 00:00:00 GMT" \
    "$(col web last_modified)"
before=$(guide web)

note "304: not modified, the guide kept"
run_amps -c amps.conf epg-refresh web
expect_rc "epg-refresh web again" 0
assert_match "summary" '^web: not modified, [0-9.]+ s$' "$OUT"
last=$(tail -n1 origin.log)
assert_eq "If-None-Match sent" "$ETAG" "$(printf '%s' "$last" | jq -r .inm)"
assert_eq "answered 304" 304 "$(printf '%s' "$last" | jq -r .status)"
assert_eq "guide kept" "$before" "$(guide web)"
assert_eq "status" "not modified|8" "$(col web "last_status, programmes")"

note "failures keep the guide: timeout, size limit, 404, malformed"
run_amps -c amps.conf epg-refresh flaky
expect_rc "epg-refresh flaky" 0
flaky=$(guide flaky)
[ -n "$flaky" ] || fail "flaky stored nothing"
ok_success=$(col flaky last_success)
# flaky_fails PATH PATTERN: the source now at PATH fails with PATTERN.
flaky_fails()
{
	sqlite3 amps.db "UPDATE epg_sources SET url = '$URL$1', etag = NULL,
	    last_modified = NULL WHERE name = 'flaky'"
	run_amps -c amps.conf epg-refresh flaky
	expect_rc "epg-refresh flaky ($1)" 1
	assert_eq "nothing on stdout ($1)" "" "$OUT"
	assert_match "error line ($1)" "^amps: flaky: error: .*$2" "$ERR"
	assert_eq "guide kept ($1)" "$flaky" "$(guide flaky)"
	assert_eq "status ($1)" "error|$ok_success" \
	    "$(col flaky "last_status, last_success")"
	assert_match "last_error ($1)" "$2" "$(col flaky last_error)"
}
t0=$(date +%s)
flaky_fails /slow/other.xml "[Tt]imed? ?out"
t1=$(date +%s)
[ $((t1 - t0)) -le 8 ] || fail "the 2 s timeout took $((t1 - t0)) s"
flaky_fails /huge "larger than 1000000 bytes"
flaky_fails /missing.xml "404"
sqlite3 amps.db "UPDATE epg_sources SET url = '$URL/raw/guide.xml'
    WHERE name = 'flaky'"

note "every source: one line each, exit 1 when one failed"
run_amps -c amps.conf epg-refresh
expect_rc "epg-refresh (all)" 1
assert_match "local line" '^local: 8 programmes' "$OUT"
assert_match "web line" '^web: not modified' "$OUT"
assert_match "flaky line" '^flaky: (8 programmes|not modified)' "$OUT"
assert_match "auto line" '^auto: 12 programmes for 2 channels' "$OUT"
assert_match "bad line" "^amps: bad: error: line [0-9]+: " "$ERR"
assert_eq "bad: no guide" "0" "$(sqlite3 amps.db "SELECT count(*) FROM
    programmes WHERE source = 'bad'")"
assert_match "bad: last_error" "^line [0-9]+: " "$(col bad last_error)"
# As if auto had never been refreshed, for streamd below.
sqlite3 amps.db "UPDATE epg_sources SET last_refresh = NULL, last_status =
    NULL, etag = NULL, last_modified = NULL WHERE name = 'auto';
    DELETE FROM programmes WHERE source = 'auto';
    UPDATE generation SET value = value + 1"

note "unknown NAME: 1, usage: 2, nothing changed"
sqlite3 amps.db .dump >before.dump
run_amps -c amps.conf epg-refresh nope
expect_rc "epg-refresh nope" 1
assert_match "unknown" "^amps: no EPG source 'nope'" "$ERR"
run_amps -c amps.conf epg-refresh local web
expect_rc "two names" 2
run_amps -c amps.conf epg-refresh --all
expect_rc "an option" 2
sqlite3 amps.db .dump >after.dump
cmp -s before.dump after.dump || fail "a refused refresh changed the database"

note "webhook events queued with each outcome"
assert_match "epg.refreshed queued" '"event":"epg.refreshed".*"source":"local"'     "$(sqlite3 amps.db "SELECT body FROM webhook_outbox")"
assert_match "epg.failed queued" '"event":"epg.failed".*"source":"flaky".*"error":'     "$(sqlite3 amps.db "SELECT body FROM webhook_outbox")"

# ---------------------------------------------------------------------
# The responder.
# ---------------------------------------------------------------------

# http METHOD URI: one request to amps.fcgi as CGI; sets CODE and the
# file resp.body.
http()
{
	env -i PATH="$PATH" AMPS_CONF="$T/amps.conf" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 SERVER_PORT=8080 \
	    REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1:8080 \
	    REQUEST_METHOD="$1" REQUEST_URI="$2" QUERY_STRING= \
	    "$FCGI" </dev/null >resp.raw 2>resp.err ||
	    fail "$1 $2: exit status $?: $(cat resp.err)"
	CODE=$(head -n1 resp.raw | tr -d '\r' | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	[ -n "$CODE" ] || fail "$1 $2: no Status line"
	h_len=$(sed '/^\r$/q' resp.raw | wc -c)
	tail -c +"$((h_len + 1))" resp.raw >resp.body
}
expect()
{
	[ "$CODE" = "$1" ] || fail "$2: status $CODE, expected $1: $(head -c 500 resp.body)"
}

note "GET /api/epg/sources"
http GET /api/epg/sources
expect 200 "GET /api/epg/sources"
assert_eq "names in order" "local web flaky bad auto" \
    "$(jq -r '[.[].name] | join(" ")' resp.body)"
jq -e '.[0] | .path != null and .url == null and .match_on == "epg_id" and
    .refresh_interval_minutes == 0 and .last_status == "ok" and
    .last_error == null and .programmes == 8 and .channels == 2 and
    .skipped == 0 and .next_refresh == null and
    (.last_refresh | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and
    (.last_success | test("Z$"))' resp.body >/dev/null ||
    fail "the local source: $(jq -c '.[0]' resp.body)"
jq -e '.[1] | .url != null and .path == null and .match_on == "tvg_name"
    and .last_status == "not modified"' resp.body >/dev/null ||
    fail "the web source: $(jq -c '.[1]' resp.body)"
jq -e '.[3] | .last_status == "error" and (.last_error | length > 0) and
    .last_success == null' resp.body >/dev/null ||
    fail "the bad source: $(jq -c '.[3]' resp.body)"
jq -e '.[4] | .refresh_interval_minutes == 60 and .last_status == "never"
    and (.next_refresh | test("Z$"))' resp.body >/dev/null ||
    fail "the auto source: $(jq -c '.[4]' resp.body)"

note "/metrics: when each source last succeeded"
http GET /metrics
expect 200 "GET /metrics"
ok_at=$(sqlite3 amps.db "SELECT last_success FROM epg_sources WHERE name = 'local'")
grep -qx "amps_epg_source_last_success_seconds{source=\"local\"} $ok_at" \
    resp.body || fail "/metrics: no last success $ok_at for local: $(grep epg_source resp.body)"
grep -qx 'amps_epg_source_last_success_seconds{source="bad"} 0' resp.body ||
    fail "/metrics: the bad source has a last success: $(grep epg_source resp.body)"

note "POST /api/epg/sources/NAME/refresh: 200, 502, 404"
sqlite3 amps.db "DELETE FROM programmes WHERE source = 'local'"
http POST /api/epg/sources/local/refresh
expect 200 "refresh local"
jq -e '.name == "local" and .last_status == "ok" and .programmes == 8 and
    .error == null' resp.body >/dev/null || fail "refresh local: $(cat resp.body)"
assert_eq "rows back" 8 "$(sqlite3 amps.db "SELECT count(*) FROM programmes
    WHERE source = 'local'")"
before=$(guide local)
cp bad.xml local.xml
http POST /api/epg/sources/local/refresh
expect 502 "refresh a broken local"
jq -e '.name == "local" and .last_status == "error" and
    (.error | test("^line [0-9]+: ")) and .last_error == .error and
    .programmes == 8' resp.body >/dev/null || fail "502 body: $(cat resp.body)"
assert_eq "guide kept (502)" "$before" "$(guide local)"
gzip -c www/guide.xml >local.xml
sqlite3 amps.db .dump >before.dump
http POST /api/epg/sources/nope/refresh
expect 404 "refresh nope"
jq -e '.error | test("nope")' resp.body >/dev/null || fail "404 body: $(cat resp.body)"
sqlite3 amps.db .dump >after.dump
cmp -s before.dump after.dump || fail "POST for an unknown source changed the database"
http GET /api/epg/sources/local/refresh
[ "$CODE" = 405 ] || [ "$CODE" = 404 ] || fail "GET .../refresh: $CODE"

note "/epg.xml carries the ingested programmes, valid against the DTD"
http POST /api/epg/sources/local/refresh
expect 200 "refresh local again"
http GET /epg.xml
expect 200 "GET /epg.xml"
cp resp.body epg.xml
xmllint --noout --dtdvalid "$DTD" epg.xml 2>xmllint.err ||
    fail "epg.xml is not valid: $(head -n 5 xmllint.err)"
n=$(xmllint --xpath 'count(//programme[@channel="ch2.amps"]/sub-title)' epg.xml)
[ "$n" -ge 4 ] || fail "sub-titles of ch2.amps: $n"
assert_match "sub-title" '<sub-title>Part 2</sub-title>' "$(cat epg.xml)"
assert_match "category" '<category>Genre &amp; more</category>' "$(cat epg.xml)"
assert_match "episode-num" '<episode-num system="onscreen">S01E02</episode-num>' \
    "$(cat epg.xml)"
assert_match "icon" '<icon src="http://img.example/2/1.jpg"/>' "$(cat epg.xml)"

# ---------------------------------------------------------------------
# streamd: a source with an interval that was never refreshed is due.
# ---------------------------------------------------------------------

note "streamd refreshes a due source by itself"
"$STREAMD" -c amps.conf 2>streamd.log &
STREAMD_PID=$!
i=0
while [ "$(col auto last_status)" != ok ]; do
	i=$((i + 1))
	[ "$i" -lt 150 ] || fail "streamd did not refresh auto: $(cat streamd.log)"
	kill -0 "$STREAMD_PID" 2>/dev/null || fail "streamd died: $(cat streamd.log)"
	sleep 0.1
done
assert_eq "auto rows (a .gz body)" 12 "$(sqlite3 amps.db "SELECT count(*)
    FROM programmes WHERE source = 'auto'")"
assert_match "logged" 'auto: 12 programmes for 2 channels' "$(cat streamd.log)"
assert_eq "local not touched (no interval)" "$before" "$(guide local)"
kill -TERM "$STREAMD_PID"
i=0
while kill -0 "$STREAMD_PID" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || fail "streamd did not stop in 10 s"
	sleep 0.1
done
wait "$STREAMD_PID" || fail "streamd exited with $?: $(tail -n 5 streamd.log)"
STREAMD_PID=

echo "epg: ok"
