# Time-windowed channels (P6) with the real streamd and the real
# responder (as CGI) on one database: an always-on scheduled channel runs
# inside its window and is listed; at the window's end streamd stops it
# and the playlist, the guide and /stream hide it; a window moved through
# the API applies without a restart, both ways: into the future (stopped,
# then started by streamd when the window opens) and open again.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

for prog in jq sqlite3; do
	command -v "$prog" >/dev/null 2>&1 ||
	    skip "$prog is not installed (tools/install-deps installs it)"
done
FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 6)
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
CONF=$TMPDIR_TEST/amps.conf

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
NOW=$(date +%s)
END=$((NOW + 10))

cat >amps.conf <<EOF
server = {
	database = "amps.db";
	media_root = "media";
	control_socket = "$SOCK";
	idle_timeout = 3;
	cleanup_delay = 1;
	input_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
ffmpeg_profiles = {
	hls2 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "Always"; source = "$AV"; ffmpeg_profile = "hls2"; }
);
scheduled_streams = (
	{ id = 50; name = "Match"; source = "$AV"; ffmpeg_profile = "hls2";
	  always_on = true;
	  input_args = [ "-re", "-stream_loop", "-1" ];
	  schedule = { start = "$(iso $((NOW - 60)))"; end = "$(iso "$END")"; }; }
);
EOF
run_amps -c amps.conf init
expect_rc "init" 0

# cgi METHOD URI [BODY]: the responder as CGI; CODE and BODY are set.
cgi()
{
	cg_in=/dev/null
	set -- "$1" "$2" "${3:-}"
	if [ -n "$3" ]; then
		printf '%s' "$3" >req.body
		cg_in=req.body
	fi
	env -i PATH="$PATH" AMPS_CONF="$CONF" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 SERVER_PORT=8080 \
	    REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1:8080 \
	    REQUEST_METHOD="$1" REQUEST_URI="$2" QUERY_STRING="${2#*\?}" \
	    CONTENT_TYPE=application/json \
	    CONTENT_LENGTH="$(wc -c <"$cg_in" | tr -d ' ')" \
	    "$FCGI" <"$cg_in" >resp.raw 2>resp.err ||
	    fail "$1 $2: exit status $?: $(cat resp.err)"
	CODE=$(head -n1 resp.raw | tr -d '\r' | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	BODY=$(sed '1,/^\r$/d' resp.raw)
}

listed()
{
	cgi GET /playlist.m3u
	assert_eq "GET /playlist.m3u" 200 "$CODE"
	printf '%s\n' "$BODY" | grep -q '^https\{0,1\}://.*/stream/50'
}
not_listed() { ! listed; }
in_guide()
{
	cgi GET /api/epg
	assert_eq "GET /api/epg" 200 "$CODE"
	printf '%s\n' "$BODY" | jq -e 'tostring | test("\"Match\"")' >/dev/null
}
running() { state_is 50 running; }
gone() { [ "$(st 50 state)" = absent ]; }

streamd_start amps.conf streamd.log
note "streamd $SD_PID up"

note "inside the window: running and listed"
poll "channel 50 running in its window" 20 running
listed || fail "channel 50 is missing from the playlist inside its window"
in_guide || fail "channel 50 is missing from the guide inside its window"

note "the window ends: streamd stops it, the responder hides it"
poll "channel 50 stopped at its window's end" $((END - $(date +%s) + 8)) gone
[ "$(date +%s)" -ge "$END" ] ||
    fail "channel 50 stopped before its window's end"
assert_match "streamd says why" 'stream 50: (its schedule ended|outside its schedule)' \
    "$(cat streamd.log)"
not_listed || fail "channel 50 is still in the playlist after its window"
in_guide && fail "channel 50 is still in the guide after its window"
cgi GET /stream/50
assert_eq "GET /stream/50 outside the window" 404 "$CODE"
printf '%s\n' "$BODY" | jq -e '.error | length > 0' >/dev/null ||
    fail "GET /stream/50: no JSON error: $BODY"
[ "$(st 1 state)" = absent ] || fail "channel 1 was started by nobody"

note "the API moves the window into the future: nothing runs until it opens"
OPEN=$(($(date +%s) + 6))
cgi PATCH /api/streams/50 \
    "{\"schedule\":{\"start\":\"$(iso "$OPEN")\",\"end\":\"$(iso $((OPEN + 600)))\"}}"
assert_eq "PATCH the window" 200 "$CODE"
sleep 3
[ "$(date +%s)" -lt "$OPEN" ] || fail "the machine is too slow for this check"
gone || fail "channel 50 runs before its window opens"
not_listed || fail "channel 50 is listed before its window opens"
poll "channel 50 started when its window opened" 15 running
[ "$(date +%s)" -ge "$OPEN" ] || fail "channel 50 started before its window"
listed || fail "channel 50 is missing once its window is open"

note "the API closes the window: stopped without a restart"
cgi PATCH /api/streams/50 \
    "{\"schedule\":{\"start\":\"$(iso $((NOW - 60)))\",\"end\":\"$(iso $((NOW - 30)))\"}}"
assert_eq "PATCH a window that is over" 200 "$CODE"
poll "channel 50 stopped after its window was closed" 10 gone
not_listed || fail "channel 50 is listed after its window was closed"
sqlite3 amps.db "SELECT state FROM pipeline_status WHERE channel_id = 50" |
    grep -qx stopped || fail "pipeline_status does not say stopped"

streamd_stop "the end"
assert_eq "streamd exit status" 0 "$SD_STATUS"
exit 0
