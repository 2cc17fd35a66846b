# streamd's outputs with real media (made by ffmpeg at test time): HLS
# with MPEG-TS and fMP4 segments, LL-HLS, DASH, the raw ts and audio
# streams of "attach", a transcode, an adaptive ladder with its master
# playlist, audio-only and video-only sources; then status (socket,
# SQLite, amps tuners), SIGTERM (playlists closed with ENDLIST), and a
# channel that stops by itself when nobody watches.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"
command -v xmllint >/dev/null 2>&1 ||
    skip "xmllint is not installed (libxml2-utils; tools/install-deps)"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
AUD=$(media_audio)
VID=$(media_video)
media_ok "$AV" "$AUD" "$VID"
SOCK=$SOCKDIR/streamd.sock
MEDIA=$TMPDIR_TEST/media
LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'

# conf FILE DB MEDIA SOCKET IDLE_TIMEOUT: the test's amps.conf.
conf()
{
	cat >"$1" <<EOF
server = {
	database = "$2";
	media_root = "$3";
	control_socket = "$4";
	idle_timeout = $5;
	cleanup_delay = 1;
	ensure_timeout = 20;
	input_timeout = 5;
	stall_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
ffmpeg_profiles = {
	hls2 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	fmp4 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4;
	    hls_segment_type = "fmp4"; };
	small = { video_codec = "libx264"; preset = "ultrafast";
	    size = "160x120"; video_bitrate = "300k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "64k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	hi = { video_codec = "libx264"; preset = "ultrafast";
	    size = "320x240"; video_bitrate = "600k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "64k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	lo = { video_codec = "libx264"; preset = "ultrafast";
	    size = "160x120"; video_bitrate = "200k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "48k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "AV"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 2; name = "fMP4"; source = "$AV"; ffmpeg_profile = "fmp4"; $LOOP },
	{ id = 3; name = "LL"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 4; name = "Small"; source = "$AV"; ffmpeg_profile = "small"; $LOOP },
	{ id = 5; name = "Ladder"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP
	  adaptive_bitrates = (
		{ name = "hi"; label = "High"; ffmpeg_profile = "hi"; },
		{ name = "lo"; label = "Low"; ffmpeg_profile = "lo"; }
	  ); },
	{ id = 6; name = "Radio"; source = "$AUD"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 7; name = "Silent"; source = "$VID"; ffmpeg_profile = "hls2"; $LOOP }
);
EOF
}

conf amps.conf amps.db media "$SOCK" 600
run_amps -c amps.conf check-config
expect_rc "check-config" 0

streamd_start amps.conf streamd.log
note "streamd $SD_PID up; ensure every channel at once"
# bg_ensure NAME REQUEST: an ensure in the background, its reply in
# NAME.out, and in NAME.snap a copy of the file that the reply names,
# taken as soon as the reply came: what a player would get then.
BG=
bg_ensure()
{
	(
		$CTL -s "$SOCK" --timeout 40 --time "$2" >"$1.out" 2>"$1.err" ||
		    exit 1
		be_p=$(jq -r '.path // empty' "$1.out")
		[ -z "$be_p" ] || cp "$MEDIA/$be_p" "$1.snap" 2>/dev/null
		exit 0
	) &
	BG="$BG $1:$!"
}
bg_ensure e1 '{"cmd":"ensure","stream":1,"output":"hls"}'
bg_ensure e2 '{"cmd":"ensure","stream":2,"output":"hls"}'
bg_ensure e3 '{"cmd":"ensure","stream":3,"output":"ll-hls"}'
bg_ensure e4 '{"cmd":"ensure","stream":4,"output":"hls"}'
bg_ensure e5 '{"cmd":"ensure","stream":5,"output":"master"}'
bg_ensure e6 '{"cmd":"ensure","stream":6,"output":"hls"}'
bg_ensure e7 '{"cmd":"ensure","stream":7,"output":"hls"}'
for b in $BG; do
	rc=0
	wait "${b#*:}" || rc=$?
	[ "$rc" -eq 0 ] ||
	    sd_fail "${b%%:*}: no reply: $(cat "${b%%:*}.err")"
done
# ensure_path NAME PATH: the ensure in NAME.out answered ok with PATH.
ensure_path()
{
	jq -e --arg p "$2" '.ok == true and .path == $p' "$1.out" >/dev/null ||
	    sd_fail "$1: expected ok with path $2: $(cat "$1.out")"
}
ensure_path e1 hls/1/index.m3u8
ensure_path e2 hls/2/index.m3u8
ensure_path e3 hls/3/index.m3u8
ensure_path e4 hls/4/index.m3u8
ensure_path e5 hls/5/master.m3u8
ensure_path e6 hls/6/index.m3u8
ensure_path e7 hls/7/index.m3u8
note "LL-HLS ensure answered in $(sed -n 's/^elapsed_ms=//p' e3.err) ms;" \
    "HLS in $(sed -n 's/^elapsed_ms=//p' e1.err) ms"
# "Playable" when ensure answers: a playlist with a segment (a part for
# LL-HLS), a master playlist with its variants.
for e in e1 e2 e4 e6 e7; do
	[ -s "$e.snap" ] || sd_fail "$e: no playlist when ensure answered"
	hlscheck "$e: the playlist when ensure answered" "$e.snap" \
	    --no-files --live --min-segments 1
done
[ -s e3.snap ] || sd_fail "e3: no playlist when ensure answered"
hlscheck "e3: the LL-HLS playlist when ensure answered" e3.snap \
    --no-files --live --ll
[ -s e5.snap ] || sd_fail "e5: no master playlist when ensure answered"
hlscheck "e5: the master playlist when ensure answered" e5.snap \
    --no-files --master

note "the ts and audio streams, read in the background"
ensure 1 ts
ensure 1 audio
$CTL -s "$SOCK" --timeout 30 --attach 500000 -o attach.ts \
    '{"cmd":"attach","stream":1,"output":"ts"}' >attach-ts.out \
    2>attach-ts.err &
AT_PID=$!
$CTL -s "$SOCK" --timeout 30 --attach 64000 -o attach.aac \
    '{"cmd":"attach","stream":1,"output":"audio"}' >attach-aac.out \
    2>attach-aac.err &
AA_PID=$!
# The audio one lasts about 8 s (64 kbit/s).
viewing() { [ "$(st 1 viewers)" -ge 1 ] 2>/dev/null; }
poll "viewers of channel 1 while attached" 4 viewing

note "HLS with MPEG-TS segments"
P1=$MEDIA/hls/1/index.m3u8
hlscheck "hls" "$P1" --live --min-segments 1 --segment-duration 2
assert_eq "ffprobe hls" "h264 320 240
aac" "$(probe "$P1")"
SEQ0=$(hls_get media_sequence)
FIRST0=$(hls_get first_uri)
assert_match "segment names" '^seg[0-9]+\.ts$' "$FIRST0"
assert_eq "target duration" 2 "$(hls_get target_duration)"
PK=$(packets "$MEDIA/hls/1/$FIRST0")
assert_match "video in $FIRST0" '^h264 [1-9]' "$PK"
assert_match "audio in $FIRST0" '^aac [1-9]' "$PK"
first_key "HLS segment" "$MEDIA/hls/1/$FIRST0"

note "fMP4 HLS"
P2=$MEDIA/hls/2/index.m3u8
hlscheck "fmp4" "$P2" --live --fmp4 --min-segments 1 --segment-duration 2
assert_eq "EXT-X-MAP" init.mp4 "$(hls_get map)"
assert_match "fmp4 segments" '^seg[0-9]+\.m4s$' "$(hls_get first_uri)"
[ -s "$MEDIA/hls/2/init.mp4" ] || sd_fail "no init.mp4"
assert_match "ffprobe init.mp4" '^h264 320 240$' "$(probe "$MEDIA/hls/2/init.mp4")"
assert_eq "ffprobe fmp4 hls" "h264 320 240
aac" "$(probe "$P2")"
cat "$MEDIA/hls/2/init.mp4" "$MEDIA/hls/2/$(hls_get first_uri)" >fmp4.mp4
PK=$(packets fmp4.mp4)
assert_match "video in an fMP4 segment" '^h264 [1-9]' "$PK"
assert_match "audio in an fMP4 segment" '^aac [1-9]' "$PK"
first_key "fMP4 segment" fmp4.mp4

note "LL-HLS"
P3=$MEDIA/hls/3/index.m3u8
hlscheck "ll-hls" "$P3" --live --ll
for u in $(hls_get part_uris); do
	assert_match "part name" '^seg[0-9]+\.[0-9]+\.ts$' "$u"
done
assert_match "ffprobe ll-hls" '^h264 320 240$' "$(probe "$P3")"

note "DASH"
ensure 1 dash
assert_eq "dash path" dash/1/manifest.mpd "$(printf '%s\n' "$REPLY" | jq -r .path)"
MPD=$MEDIA/dash/1/manifest.mpd
xmllint --noout "$MPD" 2>xmllint.err ||
    sd_fail "manifest.mpd is not XML: $(cat xmllint.err)"
assert_eq "MPD root" 1 "$(xmllint --xpath "count(/*[local-name()='MPD'])" "$MPD")"
# Every segment listed exists, and is announced at the time it is made.
MPDCHECK=$($HLSCHECK --mpd --min-segments 1 "$MPD" 2>&1) ||
    sd_fail "manifest.mpd: $MPDCHECK
--- $MPD ---
$(cat "$MPD")"
# Each representation: its init and first segment hold its media, and a
# video one starts with a keyframe (startWithSAP).
KINDS=
for r in $(printf '%s\n' "$MPDCHECK" | sed -n 's/^rep=//p' | tr ' ' ,); do
	# shellcheck disable=SC2046 # ID KIND INIT FIRST
	set -- $(echo "$r" | tr , ' ')
	cat "$3" "$4" >"dash-$1.mp4" || sd_fail "DASH representation $1: $r"
	PK=$(packets "dash-$1.mp4")
	case $2 in
	video)	assert_match "DASH video $4" '^h264 [1-9]' "$PK"
		first_key "DASH video segment" "dash-$1.mp4" ;;
	audio)	assert_match "DASH audio $4" '^aac [1-9]' "$PK" ;;
	esac
	KINDS="$KINDS $2"
done
assert_eq "DASH representations" " video audio" "$KINDS"
assert_eq "ffprobe dash" "aac
h264 320 240" "$(probe "$MPD" | sort)"

note "a transcode to 160x120"
# (The first segment of an encode may be longer: the audio encoder's
# priming.)
hlscheck "transcode" "$MEDIA/hls/4/index.m3u8" --live --min-segments 1
assert_eq "ffprobe transcode" "h264 160 120
aac" "$(probe "$MEDIA/hls/4/index.m3u8")"

note "an adaptive ladder"
M5=$MEDIA/hls/5/master.m3u8
hlscheck "master" "$M5" --master
# variant URI: BANDWIDTH RESOLUTION CODECS of each rendition.
LADDER=$(printf '%s\n' "$HLS" | awk -F= '
	/^variant\.[0-9]+\./ { split($1, k, "."); v[k[2], k[3]] = $2;
	    if (k[2] + 1 > n) n = k[2] + 1 }
	END { for (i = 0; i < n; i++) print v[i, "uri"] ": " v[i, "bandwidth"] \
	    " " v[i, "resolution"] " " v[i, "codecs"] }')
note "master: $LADDER"
assert_match "master lists hi" '^hi/index\.m3u8: [1-9][0-9]* 320x240 avc1\.[0-9A-Fa-f]{6},mp4a\.40\.2$' "$LADDER"
assert_match "master lists lo" '^lo/index\.m3u8: [1-9][0-9]* 160x120 avc1\.[0-9A-Fa-f]{6},mp4a\.40\.2$' "$LADDER"
assert_match "master lists the main rendition" '^index\.m3u8: [1-9][0-9]* 320x240 ' "$LADDER"
assert_eq "ffprobe hi" "h264 320 240
aac" "$(probe "$MEDIA/hls/5/hi/index.m3u8")"
assert_eq "ffprobe lo" "h264 160 120
aac" "$(probe "$MEDIA/hls/5/lo/index.m3u8")"
for r in index.m3u8 hi/index.m3u8 lo/index.m3u8; do
	hlscheck "rendition $r" "$MEDIA/hls/5/$r" --live --min-segments 1
done
# Keyframes aligned: a player switches renditions between segments, so
# segment N of every rendition lasts as long and starts at the same
# video timestamp.
ALIGN=$($HLSCHECK --align --min-common 2 "$MEDIA/hls/5/index.m3u8" \
    "$MEDIA/hls/5/hi/index.m3u8" "$MEDIA/hls/5/lo/index.m3u8" 2>&1) ||
    sd_fail "renditions not aligned: $ALIGN
$(for r in index.m3u8 hi/index.m3u8 lo/index.m3u8; do
	echo "--- $r"; cat "$MEDIA/hls/5/$r"; done)"
STARTS=
for f in $(printf '%s\n' "$ALIGN" | sed -n 's/^last_common_paths=//p'); do
	STARTS="$STARTS $(ffprobe -v error -select_streams v:0 -show_entries \
	    stream=start_time -of csv=p=0 "$f" | head -n 1)"
	first_key "rendition segment" "$f"
done
note "segment $(printf '%s\n' "$ALIGN" | sed -n 's/^last_common=//p') of each rendition starts at$STARTS"
printf '%s\n' "$STARTS" | awk '{ for (i = 1; i <= NF; i++) {
	if (i == 1 || $i < lo) lo = $i; if (i == 1 || $i > hi) hi = $i }
	exit !(NF == 3 && hi - lo <= 0.1) }' ||
    sd_fail "renditions' keyframes not aligned: segment starts$STARTS"

note "audio-only and video-only sources"
hlscheck "audio only" "$MEDIA/hls/6/index.m3u8" --live --min-segments 1
assert_eq "ffprobe audio only" "aac" "$(probe "$MEDIA/hls/6/index.m3u8")"
hlscheck "video only" "$MEDIA/hls/7/index.m3u8" --live --min-segments 1 \
    --segment-duration 2
assert_eq "ffprobe video only" "h264 320 240" "$(probe "$MEDIA/hls/7/index.m3u8")"

note "the raw streams of attach"
wait "$AT_PID" || sd_fail "attach ts: $(cat attach-ts.err) $(cat attach-ts.out)"
jq -e '.ok == true and .content_type == "video/mp2t"' attach-ts.out >/dev/null ||
    sd_fail "attach ts reply: $(cat attach-ts.out)"
assert_eq "attach ts size" 500000 "$(stat -c %s attach.ts)"
assert_eq "first byte" 47 "$(head -c 1 attach.ts | od -An -tx1 | tr -d ' ')"
assert_eq "ffprobe attach ts" "h264 320 240
aac" "$(probe attach.ts)"
ts_cut attach.ts attach-cut.ts
first_key "attach ts" attach-cut.ts
decode attach-cut.ts
wait "$AA_PID" || sd_fail "attach audio: $(cat attach-aac.err) $(cat attach-aac.out)"
jq -e '.ok == true and .content_type == "audio/aac"' attach-aac.out >/dev/null ||
    sd_fail "attach audio reply: $(cat attach-aac.out)"
assert_eq "attach audio format" "aac" "$(ffprobe -v error -show_entries \
    format=format_name -of csv=p=0 attach.aac)"
assert_eq "attach audio codec" "aac" "$(probe attach.aac)"
adts_cut attach.aac attach-cut.aac
decode attach-cut.aac
no_viewers() { [ "$(st 1 viewers)" = 0 ]; }
poll "no viewers of channel 1 once the clients left" 5 no_viewers

note "status"
status
for id in 1 2 3 4 5 6 7; do
	assert_eq "channel $id state" running "$(printf '%s\n' "$STATUS" |
	    jq -r --argjson s "$id" '.pipelines[] | select(.stream == $s and
	    (.variant // "") == "") | .state')"
done
assert_eq "status pid" "$SD_PID" "$(printf '%s\n' "$STATUS" | jq -r .pid)"
OUTS=$(st 1 outputs)
assert_match "channel 1 outputs hls" '(^|,)hls(,|$)' "$OUTS"
assert_match "channel 1 outputs dash" '(^|,)dash(,|$)' "$OUTS"
db_running()
{
	[ "$(sqlite3 amps.db "SELECT state FROM pipeline_status WHERE
	    channel_id = 1 AND variant = ''" 2>/dev/null)" = running ]
}
poll "pipeline_status of channel 1 running" 5 db_running
DB_OUTS=$(sqlite3 amps.db "SELECT outputs FROM pipeline_status WHERE
    channel_id = 1 AND variant = ''")
printf '%s\n' "$DB_OUTS" | jq -e 'type == "array" and index("hls") != null' \
    >/dev/null 2>&1 || sd_fail "pipeline_status outputs: [$DB_OUTS]"
assert_eq "pipeline_status rows running" 7 "$(sqlite3 amps.db "SELECT count(*)
    FROM pipeline_status WHERE variant = '' AND state = 'running'")"
run_amps -c amps.conf tuners
expect_rc "amps tuners" 0
for id in 1 2 3 4 5 6 7; do
	assert_match "amps tuners lists $id" "^ *${id}[[:space:]].*running" "$OUT"
done
run_amps -c amps.conf tuners --json
expect_rc "amps tuners --json" 0
printf '%s\n' "$OUT" | jq -e '[.. | objects | select(.state == "running")] |
    length >= 7' >/dev/null 2>&1 || fail "amps tuners --json: $OUT"

note "the live playlist moves on and old segments go"
moved_on()
{
	hlscheck "hls while running" "$P1" --live --segment-duration 2
	[ "$(hls_get media_sequence)" -ge $((SEQ0 + 3)) ]
}
poll "media sequence of channel 1 past $((SEQ0 + 3))" 20 moved_on
FIRST1=$(hls_get first_uri)
[ "$FIRST1" != "$FIRST0" ] || sd_fail "the first segment is still $FIRST0"
gone() { [ ! -e "$MEDIA/hls/1/$FIRST0" ]; }
poll "$FIRST0 deleted" 20 gone
NSEG=$(find "$MEDIA/hls/1" -name 'seg*.ts' | wc -l)
[ "$NSEG" -le 12 ] || sd_fail "$NSEG segments kept for a playlist of 4"
no_zombies "while running"

note "SIGTERM"
streamd_stop "SIGTERM"
assert_eq "exit status on SIGTERM" 0 "$SD_STATUS"
for pl in 1/index.m3u8 2/index.m3u8 3/index.m3u8 4/index.m3u8 \
    5/index.m3u8 5/hi/index.m3u8 5/lo/index.m3u8 6/index.m3u8 7/index.m3u8; do
	hlscheck "after SIGTERM" "$MEDIA/hls/$pl" --endlist
done
assert_eq "pipeline_status after SIGTERM" "" "$(sqlite3 amps.db "SELECT
    channel_id, variant, state FROM pipeline_status WHERE state != 'stopped'")"
[ "$(sqlite3 amps.db "SELECT count(*) FROM pipeline_status")" -ge 7 ] ||
    fail "pipeline_status lost its rows"
[ ! -e "$SOCK" ] || fail "the control socket is left behind"

note "a channel nobody watches stops by itself (idle_timeout = 2)"
SOCK=$SOCKDIR/idle.sock
conf idle.conf idle.db media2 "$SOCK" 2
streamd_start idle.conf idle.log
ensure 1 hls
[ -s media2/hls/1/index.m3u8 ] || sd_fail "no playlist after ensure"
idle_stopped() { state_is 1 stopped absent; }
poll "channel 1 stopped after 2 s without viewers" 15 idle_stopped
no_folder() { [ ! -e media2/hls/1 ]; }
poll "media2/hls/1 removed 1 s after the stop" 10 no_folder
no_zombies "after the idle stop"
streamd_stop "SIGTERM of the idle instance"
assert_eq "exit status" 0 "$SD_STATUS"
echo "pipeline: ok"
