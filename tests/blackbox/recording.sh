# Recordings and clips (A4) with the real streamd and the responder as
# CGI: 10 s recorded in MPEG-TS and in MP4 (ffprobe: duration and both
# tracks, decoded without an error), the recording holding its channel
# with no viewer and the channel's idle stop after it; clips cut by remux
# from the keyframe at or before the start, and exactly (in TS only the
# head re-encoded, the rest the recording's packets; in MP4 all); kill -9
# of streamd while recording (the partial file decodes, the row becomes
# interrupted after the restart); a programme recorded by itself with its
# padding; a scheduled channel whose window ends stopping its recording
# (P6); SIGTERM finalising an MP4 recording; every rejected request
# leaving the recordings table as it was; the webhook events queued.
# The test media has a keyframe every second (-g 25), so that a cut at a
# keyframe is within a second of the time asked for.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$MEDIA_DIR/gop1.ts
# shellcheck disable=SC2086
m_ffmpeg "$AV" $M_VIDEO $M_AUDIO -t 12 -c:v libx264 -preset ultrafast \
    -g 25 -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p $M_AENC -f mpegts
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
CONF=$TMPDIR_TEST/amps.conf
DB=$TMPDIR_TEST/amps.db
MEDIA=$TMPDIR_TEST/media
LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'
NOW=$(date +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

cat >amps.conf <<EOF
server = {
	database = "amps.db";
	media_root = "media";
	control_socket = "$SOCK";
	idle_timeout = 3;
	cleanup_delay = 1;
	ensure_timeout = 20;
	input_timeout = 5;
	stall_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
streams = (
	{ id = 1; name = "One"; source = "$AV"; ffmpeg_profile = "copy";
	  $LOOP }
);
scheduled_streams = (
	{ id = 2; name = "Match"; source = "$AV"; ffmpeg_profile = "copy";
	  $LOOP
	  schedule = { start = "$(iso $((NOW - 60)))";
	      end = "$(iso $((NOW + 86400)))"; }; }
);
webhooks = (
	{ name = "sink"; url = "http://127.0.0.1:9/hook"; }
);
EOF
run_amps -c amps.conf init
expect_rc "init" 0
streamd_start amps.conf streamd.log
note "streamd $SD_PID up"

# api METHOD URI [BODY]: the responder as CGI; CODE, HEADERS and the
# file resp.body are set.  Every 4xx and 5xx must be a JSON error.
api()
{
	a_in=/dev/null
	if [ -n "${3:-}" ]; then
		printf '%s' "$3" >req.body
		a_in=req.body
	fi
	a_query=
	case $2 in
	*\?*)	a_query=${2#*\?} ;;
	esac
	env -i PATH="$PATH" AMPS_CONF="$CONF" GATEWAY_INTERFACE=CGI/1.1 \
	    SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 SERVER_PORT=8080 \
	    REMOTE_ADDR=127.0.0.1 HTTP_HOST=127.0.0.1:8080 \
	    REQUEST_METHOD="$1" REQUEST_URI="$2" QUERY_STRING="$a_query" \
	    CONTENT_TYPE=application/json \
	    CONTENT_LENGTH="$(wc -c <"$a_in" | tr -d ' ')" \
	    "$FCGI" <"$a_in" >resp.raw 2>resp.err ||
	    fail "$1 $2: exit status $?: $(cat resp.err)"
	CODE=$(head -n1 resp.raw | tr -d '\r' |
	    sed -n 's/^Status: \([0-9]*\).*/\1/p')
	HEADERS=$(sed '/^\r$/q' resp.raw | tr -d '\r')
	sed '1,/^\r$/d' resp.raw >resp.body
	if [ "${CODE:-0}" -ge 400 ]; then
		jq -e '(.error | type) == "string" and (.error | length) > 0' \
		    resp.body >/dev/null 2>&1 ||
		    fail "$1 $2: $CODE without a JSON error: $(cat resp.body)"
	fi
}
# expect CODE WHAT
expect()
{
	[ "$CODE" = "$1" ] ||
	    sd_fail "$2: expected $1, got $CODE: $(cat resp.body)"
}
# field FILTER: jq -r FILTER on the last body.
field() { jq -r "$1" resp.body; }
# rows: the recordings table as text.
rows() { sqlite3 "$DB" 'SELECT * FROM recordings ORDER BY id'; }
# reject CODE METHOD URI [BODY]: refused with CODE, the table unchanged.
reject()
{
	rj_code=$1
	shift
	rows >rows.before
	api "$@"
	expect "$rj_code" "$1 $2 ${3:-}"
	rows >rows.after
	cmp -s rows.before rows.after ||
	    fail "$1 $2 ${3:-}: the recordings changed: $(diff rows.before rows.after)"
	note "refused ($CODE): $1 $2 ${3:-}: $(field .error)"
}
# row ID COLUMN: a column of a recordings row.
row() { sqlite3 "$DB" "SELECT $2 FROM recordings WHERE id = $1"; }
row_is() { [ "$(row "$1" state)" = "$2" ]; }
# duration FILE: the container's duration (s) as ffprobe reads it.
duration()
{
	ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"
}
# streams FILE: the codec names of FILE's streams, sorted, one line.
streams()
{
	ffprobe -v error -show_entries stream=codec_name -of json "$1" |
	    jq -r '.streams[].codec_name' | sort | tr '\n' ' ' |
	    sed 's/ $//'
}
# vsizes FILE FROM NTH: the sizes of 12 video packets of FILE, from its
# NTH keyframe at or after FROM s (its pts) on, one a line.
vsizes()
{
	ffprobe -v error -select_streams v:0 \
	    -show_entries packet=pts_time,size,flags -of csv=p=0 "$1" |
	    awk -F, -v from="$2" -v nth="$3" '
		NF < 3 { next }
		$1 + 0 >= from && $3 ~ /K/ { k++ }
		k >= nth && n < 12 { print $2; n++ }'
}
# within WHAT VALUE LOW HIGH: LOW <= VALUE <= HIGH.
within()
{
	awk -v v="$2" -v lo="$3" -v hi="$4" \
	    'BEGIN { exit !(v != "" && v + 0 >= lo && v + 0 <= hi) }' ||
	    sd_fail "$1: $2 is not within [$3, $4]"
}
# check_file WHAT FILE SECONDS TOLERANCE: FILE has h264 and aac, lasts
# SECONDS plus or minus TOLERANCE, and decodes without a message.
check_file()
{
	[ -s "$2" ] || sd_fail "$1: no file $2"
	assert_eq "$1: streams" "aac h264" "$(streams "$2")"
	within "$1: duration" "$(duration "$2")" \
	    "$(awk -v a="$3" -v b="$4" 'BEGIN { print a - b }')" \
	    "$(awk -v a="$3" -v b="$4" 'BEGIN { print a + b }')"
	decode "$2"
}
# record ID [BODY]: starts recording channel ID now; REC is its id.
record()
{
	api POST "/api/streams/$1/recordings/start" "${2:-}"
	expect 201 "start recording channel $1"
	REC=$(field .id)
	[ "$(field .state)" = recording ] ||
	    sd_fail "start: not recording: $(cat resp.body)"
	printf '%s\n' "$HEADERS" | grep -q "^Location: /api/recordings/$REC\$" ||
	    fail "start: no Location: $HEADERS"
}
# stop ID [BODY]: stops channel ID's recordings; the answer is a list.
stop()
{
	api POST "/api/streams/$1/recordings/stop" "${2:-}"
	expect 200 "stop recording channel $1"
}
pl_state() { st "$1" state; }
running1() { [ "$(pl_state 1)" = running ]; }
gone1() { [ "$(pl_state 1)" = absent ]; }

note "record 10 s of channel 1 in MPEG-TS"
record 1
R1=$REC
FILE1=$MEDIA/$(field .file)
assert_match "the file's URL" '^http://127\.0\.0\.1:8080/rec/1/[0-9]+\.ts$' \
    "$(field .url)"
assert_eq "the row's format" ts "$(field .format)"
pl 1
assert_eq "channel 1 runs" running "$(plf state)"
assert_eq "no viewer" 0 "$(plf viewers)"
assert_eq "the pipeline lists the recording" "$R1" "$(plf recordings)"
sleep 6
# Twice the idle timeout without a viewer: the recording holds it.
assert_eq "channel 1 still runs, recording with no viewer" running \
    "$(pl_state 1)"
sleep 4
stop 1
assert_eq "stop answers the finalised row" "$R1 stopped" \
    "$(field '.[0] | "\(.id) \(.state)"')"
within "the row's duration" "$(field '.[0].duration')" 9 11
assert_eq "the row's bytes" "$(stat -c %s "$FILE1")" "$(field '.[0].bytes')"
check_file "the TS recording" "$FILE1" 10 1
poll "channel 1 stops once its recording stopped" 15 gone1

note "record 10 s in MP4 (its index read by ffprobe)"
record 1 '{"format":"mp4","title":"Mp4 one"}'
R2=$REC
FILE2=$MEDIA/$(field .file)
assert_eq "the title" "Mp4 one" "$(field .title)"
case $FILE2 in *.mp4) ;; *) fail "not an MP4: $FILE2" ;; esac
sleep 10
stop 1 "{\"id\":$R2}"
assert_eq "stopped" stopped "$(field '.[0].state')"
check_file "the MP4 recording" "$FILE2" 10 1

note "the list, newest first, and its filters"
api GET /api/recordings
expect 200 "list"
assert_eq "newest first" "$R2 $R1" "$(field '[.[].id] | map(tostring) | join(" ")')"
api GET "/api/recordings?channel=1&state=stopped&kind=recording"
assert_eq "filtered" 2 "$(field length)"
api GET /api/recordings?kind=clip
assert_eq "no clip yet" 0 "$(field length)"
api GET "/api/recordings/$R1"
expect 200 "get one"
assert_eq "one row" "$R1 1 stopped" "$(field '"\(.id) \(.channel) \(.state)"')"

note "clips of the TS recording: remux from a keyframe, and exact"
# clip BODY: a clip job of R1 (202), waited for; CLIP and CLIPFILE.
clip()
{
	api POST "/api/recordings/${CLIP_OF:-$R1}/clip" "$1"
	expect 202 "clip $1"
	CLIP=$(field .id)
	# (The worker, woken at once, may have taken it, or cut it, already.)
	assert_match "the job" "^(pending|running|ready) clip ${CLIP_OF}\$" \
	    "$(field '"\(.state) \(.kind) \(.parent_id)"')"
	printf '%s\n' "$HEADERS" | grep -q "^Location: /api/recordings/$CLIP\$" ||
	    fail "clip: no Location: $HEADERS"
	clip_done() { ! row_is "$CLIP" pending && ! row_is "$CLIP" running; }
	poll "clip $CLIP done" 30 clip_done
	assert_eq "clip $CLIP" "ready " "$(row "$CLIP" state) $(row "$CLIP" error)"
	CLIPFILE=$MEDIA/$(row "$CLIP" file)
}
CLIP_OF=$R1
clip "{\"start\":2,\"end\":5,\"recording_file\":\"$(basename "$FILE1")\"}"
assert_eq "streams of the clip" "aac h264" "$(streams "$CLIPFILE")"
# From the keyframe at or before 2 s: one GOP (1 s) more at most.
within "the clip's duration" "$(duration "$CLIPFILE")" 2.95 4.05
decode "$CLIPFILE"
first_key "the clip" "$CLIPFILE"
# Between keyframes (which are on whole seconds): a remux would start at
# 2 s and last 3.5 s.
clip '{"start":2.5,"end":5.5,"exact":true}'
within "the exact clip's duration" "$(duration "$CLIPFILE")" 2.8 3.2
decode "$CLIPFILE"
first_key "the exact clip" "$CLIPFILE"
# Only its head (2.5 s to the keyframe at 3 s) is encoded: from its
# second keyframe on, its video packets are the recording's from the
# keyframe at 3 s, the same sizes in the same order.
vsizes "$CLIPFILE" 0 2 >clip.sizes
vsizes "$FILE1" "$(awk -v s="$(ffprobe -v error -show_entries \
    format=start_time -of csv=p=0 "$FILE1")" 'BEGIN { print s + 2.5 }')" 1 \
    >rec.sizes
assert_eq "12 packets after the exact clip's head" 12 "$(wc -l <clip.sizes)"
assert_eq "the exact clip's tail copied" "$(tr '\n' ' ' <rec.sizes)" \
    "$(tr '\n' ' ' <clip.sizes)"
clip '{"start":2.5,"end":5.5,"exact":true,"format":"mp4"}'
case $CLIPFILE in *.mp4) ;; *) fail "not an MP4 clip: $CLIPFILE" ;; esac
within "the exact MP4 clip's duration" "$(duration "$CLIPFILE")" 2.8 3.2
decode "$CLIPFILE"
first_key "the exact MP4 clip" "$CLIPFILE"
vsizes "$CLIPFILE" 0 2 >mp4.sizes
[ "$(wc -l <mp4.sizes)" -lt 12 ] ||
    [ "$(tr '\n' ' ' <mp4.sizes)" != "$(tr '\n' ' ' <rec.sizes)" ] ||
    fail "the exact MP4 clip's video was copied, not re-encoded"
STARTED1=$(row "$R1" started)
clip "{\"start\":\"$(iso $((STARTED1 + 1)))\",\"end\":\"$(iso $((STARTED1 + 4)))\",\"format\":\"mp4\",\"recording_file\":\"$(row "$R1" file)\"}"
assert_eq "ISO bounds counted from the start" "1.0 4.0" \
    "$(sqlite3 "$DB" "SELECT printf('%.1f %.1f', clip_start, clip_end) FROM recordings WHERE id = $CLIP")"
case $CLIPFILE in *.mp4) ;; *) fail "not an MP4 clip: $CLIPFILE" ;; esac
within "the MP4 clip's duration" "$(duration "$CLIPFILE")" 2.95 4.05
decode "$CLIPFILE"
CLIP_OF=$R2
clip '{"start":1,"end":3}'
within "a clip of the MP4 recording" "$(duration "$CLIPFILE")" 1.95 3.05
# Exact in TS from MP4: the copied keyframes get their SPS and PPS.
clip '{"start":1.5,"end":4.5,"exact":true,"format":"ts"}'
case $CLIPFILE in *.ts) ;; *) fail "not a TS clip: $CLIPFILE" ;; esac
within "an exact TS clip of the MP4 recording" "$(duration "$CLIPFILE")" \
    2.8 3.2
decode "$CLIPFILE"
first_key "the exact TS clip of the MP4 recording" "$CLIPFILE"
[ "$(vsizes "$CLIPFILE" 0 2 | wc -l)" = 12 ] ||
    fail "the exact TS clip of the MP4 recording has no second keyframe"
api GET /api/recordings?kind=clip
assert_eq "the clips listed" 6 "$(field length)"
assert_match "a clip's URL" '^http://127\.0\.0\.1:8080/rec/1/[0-9]+-clip\.(ts|mp4)$' \
    "$(field '.[0].url')"

note "rejected requests change nothing"
reject 404 GET /api/recordings/999
reject 404 GET /api/recordings/abc
reject 404 DELETE /api/recordings/999
reject 404 POST /api/recordings/999/clip '{"start":1,"end":2}'
reject 404 POST /api/streams/999/recordings/start
reject 404 POST /api/streams/1/recordings/start '{"variant":"nope"}'
reject 400 POST /api/streams/1/recordings/start '{"format":"avi"}'
reject 400 POST /api/streams/1/recordings/start '{"bogus":1}'
reject 400 POST /api/streams/1/recordings/start '[1]'
reject 400 POST /api/streams/1/recordings/start '{"duration":-5}'
reject 400 POST /api/streams/1/recordings/start '{not json'
reject 404 POST /api/streams/1/recordings/start '{"programme_id":123456}'
reject 400 POST /api/streams/1/recordings/start \
    "{\"start\":\"$(iso $((NOW + 100)))\",\"stop\":\"$(iso $((NOW + 50)))\"}"
reject 409 POST /api/streams/1/recordings/start \
    "{\"start\":\"$(iso $((NOW - 4000)))\",\"stop\":\"$(iso $((NOW - 3000)))\"}"
reject 409 POST /api/streams/1/recordings/stop
reject 404 POST /api/streams/1/recordings/stop '{"id":999}'
reject 409 POST /api/streams/1/recordings/stop "{\"id\":$R1}"
reject 400 POST /api/streams/1/recordings/stop '{"id":"x"}'
reject 400 POST "/api/recordings/$R1/clip" '{"start":5,"end":5}'
reject 400 POST "/api/recordings/$R1/clip" '{"start":5,"end":2}'
reject 400 POST "/api/recordings/$R1/clip" '{"start":2}'
reject 400 POST "/api/recordings/$R1/clip" '{"start":2,"end":50}'
reject 400 POST "/api/recordings/$R1/clip" '{"start":1,"end":2,"exact":"yes"}'
reject 400 POST "/api/recordings/$R1/clip" \
    '{"start":1,"end":2,"recording_file":"../../amps.db"}'
reject 400 POST "/api/recordings/$R1/clip" \
    "{\"start\":1,\"end\":2,\"recording_file\":\"$FILE1\"}"
reject 400 POST "/api/recordings/$R1/clip" \
    "{\"start\":1,\"end\":2,\"recording_file\":\"$(basename "$FILE2")\"}"
reject 400 GET '/api/recordings?state=bogus'

note "kill -9 while recording: the file plays to its last packet"
record 1
R3=$REC
FILE3=$MEDIA/$(field .file)
# A second recording of the same channel, in MP4: one more branch.
record 1 '{"format":"mp4"}'
R3M=$REC
FILE3M=$MEDIA/$(field .file)
pl 1
assert_eq "two recordings, one pipeline" "$R3,$R3M" "$(plf recordings)"
reject 409 DELETE "/api/recordings/$R3"
sleep 4
kill -KILL "$SD_PID"
wait "$SD_PID" 2>/dev/null
SD_PID=
if grep -Eq 'runtime error:|Sanitizer' streamd.log; then
	fail "a sanitizer report before kill -9: $(grep -E -A 20 \
	    'runtime error:|Sanitizer' streamd.log | head -n 40)"
fi
assert_eq "the row, streamd dead" recording "$(row "$R3" state)"
# Every packet was flushed whole (MPEG-TS packets are written 188 bytes
# at a time, a PES at a time): the file decodes without a message, to
# its end, with no cut.
assert_eq "whole TS packets" 0 $(($(stat -c %s "$FILE3") % 188))
check_file "the partial TS recording" "$FILE3" 5 1.5
# The MP4 is fragmented at every keyframe (1 s): it plays to its last
# whole fragment, without its index.
check_file "the partial MP4 recording" "$FILE3M" 4.5 1.5
note "streamd down: a start is 503 with Retry-After, and changes nothing"
reject 503 POST /api/streams/1/recordings/start
printf '%s\n' "$HEADERS" | grep -q '^Retry-After: [0-9]' ||
    fail "503 without Retry-After: $HEADERS"
reject 503 POST /api/streams/1/recordings/stop
streamd_start amps.conf streamd2.log
poll "the row interrupted after the restart" 10 row_is "$R3" interrupted
assert_eq "its error" "streamd stopped while recording" "$(row "$R3" error)"
assert_eq "its bytes" "$(stat -c %s "$FILE3")" "$(row "$R3" bytes)"
within "its duration (probed)" "$(row "$R3" duration)" 3.5 6.5
poll "the MP4 row interrupted after the restart" 10 row_is "$R3M" interrupted
within "its duration (probed)" "$(row "$R3M" duration)" 2.5 6.5
api DELETE "/api/recordings/$R3"
expect 204 "delete an interrupted recording"
[ ! -e "$FILE3" ] || fail "the deleted recording's file is still there"
reject 404 GET "/api/recordings/$R3"

note "a programme recorded by itself, with its padding"
P0=$(($(date +%s) + 8))
api PUT /api/streams/1/programs \
    "[{\"title\":\"Over\",\"start\":\"$(iso $((P0 - 900)))\",\"end\":\"$(iso $((P0 - 600)))\"},{\"title\":\"Show\",\"start\":\"$(iso "$P0")\",\"end\":\"$(iso $((P0 + 4)))\"}]"
expect 200 "put programmes"
# A client finds a programme's id in the JSON guide.
api GET "/api/epg?ids=1"
expect 200 "the guide"
PROG=$(field '.channels[0].programs[] | select(.title == "Show") | .id')
OVER=$(field '.channels[0].programs[] | select(.title == "Over") | .id')
assert_eq "the guide's ids are the rows'" \
    "$(sqlite3 "$DB" "SELECT id FROM programmes WHERE channel_id = 1 AND title = 'Show'")" \
    "$PROG"
assert_eq "a next_programs entry has no guide source" null \
    "$(field '.channels[0].programs[] | select(.title == "Show") | .source')"
reject 409 POST /api/streams/1/recordings/start "{\"programme_id\":$OVER}"
reject 404 POST /api/streams/2/recordings/start "{\"programme_id\":$PROG}"
api POST /api/streams/1/recordings/start \
    "{\"programme_id\":$PROG,\"padding_before\":1,\"padding_after\":1}"
expect 201 "record a programme"
R4=$(field .id)
assert_eq "scheduled with its padding" \
    "scheduled Show $(iso $((P0 - 1))) $(iso $((P0 + 5))) $PROG" \
    "$(field '"\(.state) \(.title) \(.start_at) \(.stop_at) \(.programme_id)"')"
poll "the programme's recording starts" 20 row_is "$R4" recording
poll "the programme's recording stops" 20 row_is "$R4" stopped
FILE4=$MEDIA/$(row "$R4" file)
check_file "the programme's recording" "$FILE4" 6 1

note "a scheduled channel whose window ends stops its recording (P6)"
record 2
R5=$REC
FILE5=$MEDIA/$(field .file)
sleep 2
api PATCH /api/streams/2 \
    "{\"schedule\":{\"start\":\"$(iso $((NOW - 60)))\",\"end\":\"$(iso $(($(date +%s) + 3)))\"}}"
expect 200 "move the window's end"
poll "the recording stops with the window" 20 row_is "$R5" stopped
# 2 s, then up to 3 s to the window's end, and up to 2 s until streamd
# looks at the windows again.
check_file "the recording cut by the window" "$FILE5" 5.5 2.5
gone2() { [ "$(pl_state 2)" = absent ]; }
poll "channel 2 stopped" 10 gone2
reject 409 POST /api/streams/2/recordings/start

note "SIGTERM finalises an MP4 recording"
record 1 '{"format":"mp4"}'
R6=$REC
FILE6=$MEDIA/$(field .file)
sleep 4
streamd_stop "SIGTERM while recording"
assert_eq "streamd's exit status" 0 "$SD_STATUS"
assert_eq "the row after SIGTERM" stopped "$(row "$R6" state)"
check_file "the MP4 finalised at SIGTERM" "$FILE6" 4 1.5

note "the webhook events were queued"
EVENTS=$(sqlite3 "$DB" 'SELECT DISTINCT event FROM webhook_outbox ORDER BY 1' | tr '\n' ' ')
for ev in stream.started stream.stopped recording.started recording.stopped \
    recording.failed clip.ready; do
	case " $EVENTS" in
	*" $ev "*)	;;
	*)	fail "no $ev event queued: $EVENTS" ;;
	esac
done
assert_eq "recording.started of the first recording" 1 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM webhook_outbox WHERE event = 'recording.started' AND json_extract(body, '\$.subject.id') = $R1")"
