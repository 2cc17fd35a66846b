# streamd's attach: the live MPEG-TS of every rendition of a ladder (its
# own resolution, its own keyframe first), the audio of a variant, two
# viewers on one shared pipeline, a private pipeline per attach with
# "overlap" (listed in status beside the shared one, gone when its client
# leaves, ended by a reload that changes the channel), the feed of a
# rendition torn down when its last viewer leaves, viewers counted and the
# idle stop after the last one; and a variant with its own input.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'

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
ffmpeg_profiles = {
	hls2 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	lo = { video_codec = "libx264"; preset = "ultrafast";
	    size = "160x120"; video_bitrate = "200k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "48k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	mid = { video_codec = "libx264"; preset = "ultrafast";
	    size = "240x180"; video_bitrate = "300k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "48k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "Ladder"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP
	  adaptive_bitrates = (
		{ name = "mid"; ffmpeg_profile = "mid"; },
		{ name = "lo"; ffmpeg_profile = "lo"; }
	  ); },
	{ id = 2; name = "Own"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP
	  adaptive_bitrates = (
		{ name = "alt"; source = "$AV"; ffmpeg_profile = "lo"; $LOOP }
	  ); }
);
EOF
run_amps -c amps.conf check-config
expect_rc "check-config" 0
streamd_start amps.conf streamd.log
note "streamd $SD_PID up"

# attach NAME BYTES REQUEST: an attach in the background that reads BYTES
# into NAME.ts, then keeps its connection open until killed; its pid in
# NAME.pid, its reply in NAME.out.
attach()
{
	$CTL -s "$SOCK" --timeout 40 --attach "$2" -o "$1.ts" --hold "$3" \
	    >"$1.out" 2>"$1.err" &
	echo "$!" >"$1.pid"
	HOLD_PIDS="$HOLD_PIDS $!"
}
# got NAME BYTES: NAME.ts holds BYTES bytes (the attach read them all).
got() { [ "$(stat -c %s "$1.ts" 2>/dev/null)" = "$2" ]; }
# leave NAME: the attach's client closes its connection.
leave()
{
	l_pid=$(cat "$1.pid")
	kill "$l_pid" 2>/dev/null
	wait "$l_pid" 2>/dev/null
}
# reply_ok NAME CONTENT_TYPE OVERLAP: the attach's reply line.
reply_ok()
{
	jq -e --arg ct "$2" --argjson ov "$3" '.ok == true and
	    .content_type == $ct and .overlap == $ov' "$1.out" >/dev/null ||
	    sd_fail "$1: reply: $(cat "$1.out") $(cat "$1.err")"
}
# pipes ID: the pipelines of channel ID in a fresh status, one JSON
# object a line, shared ones first.
pipes()
{
	status
	printf '%s\n' "$STATUS" | jq -c --argjson s "$1" '[.pipelines[] |
	    select(.stream == $s)] | sort_by(.overlap) | .[]'
}
# shared ID FIELD / private ID FIELD: FIELD of channel ID's shared or
# private pipeline (lists joined with commas; "absent" when there is
# none).
field_of()
{
	status
	printf '%s\n' "$STATUS" | jq -r --argjson s "$1" --argjson ov "$2" \
	    --arg f "$3" '[.pipelines[] | select(.stream == $s and
	    .overlap == $ov)] | if length == 0 then "absent" else .[0][$f] |
	    if type == "array" then join(",") else tostring end end'
}
shared() { field_of "$1" false "$2"; }
private() { field_of "$1" true "$2"; }
# check_ts WHAT FILE EXPECTED: FILE is MPEG-TS from its first byte, ffprobe
# sees EXPECTED, its first video packet is a keyframe and it decodes.
check_ts()
{
	assert_eq "$1: first byte" 47 "$(head -c 1 "$2" | od -An -tx1 | tr -d ' ')"
	assert_eq "$1: ffprobe" "$3" "$(probe "$2")"
	ts_cut "$2" "$2.cut"
	first_key "$1" "$2.cut"
	decode "$2.cut"
}

note "attach ts of a rendition of a ladder, and its audio"
attach lo 120000 '{"cmd":"attach","stream":1,"variant":"lo","output":"ts"}'
attach main 200000 '{"cmd":"attach","stream":1,"output":"ts"}'
$CTL -s "$SOCK" --timeout 40 --attach 30000 -o lo.aac \
    '{"cmd":"attach","stream":1,"variant":"lo","output":"audio"}' \
    >lo-aac.out 2>lo-aac.err ||
    sd_fail "attach audio of lo: $(cat lo-aac.err) $(cat lo-aac.out)"
jq -e '.ok == true and .content_type == "audio/aac" and .variant == "lo"' \
    lo-aac.out >/dev/null || sd_fail "attach audio reply: $(cat lo-aac.out)"
adts_cut lo.aac lo-cut.aac
assert_eq "audio of lo" aac "$(probe lo-cut.aac)"
decode lo-cut.aac
two_viewers() { [ "$(shared 1 viewers)" = 2 ]; }
poll "2 viewers of channel 1 with two attached clients" 20 two_viewers
assert_eq "one pipeline for two attaches of channel 1" 1 \
    "$(pipes 1 | wc -l)"
OUTS=$(shared 1 outputs)
assert_match "the feed of lo listed" '(^|,)ts:lo(,|$)' "$OUTS"
assert_match "the feed of the main rendition listed" '(^|,)ts(,|$)' "$OUTS"
assert_no_match "no feed of mid" '(^|,)ts:mid(,|$)' "$OUTS"
STARTED1=$(shared 1 started)

note "an overlap attach: a private pipeline beside the shared one"
attach ov 120000 '{"cmd":"attach","stream":1,"variant":"lo","output":"ts","overlap":true}'
has_private() { [ "$(private 1 state)" = running ]; }
poll "a private pipeline of channel 1 running" 20 has_private
assert_eq "two pipelines of channel 1" 2 "$(pipes 1 | wc -l)"
assert_eq "the private pipeline's viewers" 1 "$(private 1 viewers)"
assert_eq "the private pipeline's outputs" "ts:lo" "$(private 1 outputs)"
assert_eq "the shared pipeline's viewers" 2 "$(shared 1 viewers)"
run_amps -c amps.conf tuners
expect_rc "amps tuners" 0
assert_eq "amps tuners: two tuners for channel 1" 2 \
    "$(printf '%s\n' "$OUT" | grep -c "^1[[:space:]].*running")"
assert_eq "pipeline_status: one row for channel 1" 1 "$(sqlite3 amps.db \
    "SELECT count(*) FROM pipeline_status WHERE channel_id = 1")"
for n in lo main ov; do
	poll "$n: the bytes asked for" 40 got "$n" "$(case $n in
	    main) echo 200000 ;; *) echo 120000 ;; esac)"
done
reply_ok lo video/mp2t false
reply_ok main video/mp2t false
reply_ok ov video/mp2t true
check_ts "ts of lo" lo.ts "h264 160 120
aac"
check_ts "ts of the main rendition" main.ts "h264 320 240
aac"
check_ts "ts of lo from the private pipeline" ov.ts "h264 160 120
aac"

note "the overlap client leaves: its pipeline goes, the shared one stays"
leave ov
no_private() { [ "$(private 1 state)" = absent ]; }
poll "the private pipeline gone after its client left" 5 no_private
assert_eq "the shared pipeline still runs" running "$(shared 1 state)"
assert_eq "the shared pipeline was not restarted" "$STARTED1" \
    "$(shared 1 started)"
assert_eq "its viewers" 2 "$(shared 1 viewers)"
grep -q 'overlap pipeline [0-9]* started' streamd.log ||
    sd_fail "the overlap pipeline's start is not logged"

note "the last viewer of a rendition's feed leaves: the feed goes"
leave lo
no_lo_feed()
{
	case ",$(shared 1 outputs)," in
	*,ts:lo,*) return 1 ;;
	esac
	[ "$(shared 1 viewers)" = 1 ]
}
poll "ts:lo gone from the outputs, 1 viewer" 5 no_lo_feed
assert_match "the main feed stays" '(^|,)ts(,|$)' "$(shared 1 outputs)"

note "the last viewer leaves: 0 viewers, the idle stop after 3 s"
leave main
HOLD_PIDS=
no_viewers() { [ "$(shared 1 viewers)" = 0 ]; }
poll "no viewers of channel 1" 5 no_viewers
LEFT=$(date +%s)
assert_eq "still running right after the last viewer left" running \
    "$(shared 1 state)"
idle_stopped() { [ "$(shared 1 state)" = absent ] ||
    [ "$(shared 1 state)" = stopped ]; }
poll "channel 1 stopped by idle_timeout" 12 idle_stopped
[ $(($(date +%s) - LEFT)) -ge 1 ] ||
    sd_fail "channel 1 stopped before its idle_timeout of 3 s"

note "a variant with its own input, shared and overlap"
attach alt 80000 '{"cmd":"attach","stream":2,"variant":"alt","output":"ts"}'
attach altov 80000 '{"cmd":"attach","stream":2,"variant":"alt","output":"ts","overlap":true}'
poll "alt: the bytes asked for" 40 got alt 80000
poll "altov: the bytes asked for" 40 got altov 80000
reply_ok alt video/mp2t false
reply_ok altov video/mp2t true
check_ts "ts of a variant with its own input" alt.ts "h264 160 120
aac"
check_ts "its private twin" altov.ts "h264 160 120
aac"
assert_eq "two pipelines of channel 2" 2 "$(pipes 2 | wc -l)"
assert_eq "both of variant alt" "alt alt" "$(pipes 2 | jq -r .variant |
    tr '\n' ' ' | sed 's/ $//')"
leave altov
leave alt
HOLD_PIDS=
no_private2() { [ "$(private 2 state)" = absent ]; }
poll "the private pipeline of channel 2 gone" 5 no_private2

note "bad requests"
ctl_err '{"cmd":"attach","stream":1,"output":"ts","overlap":1}' \
    "'overlap' must be true or false"
ctl_err '{"cmd":"ensure","stream":1,"output":"hls","overlap":true}' \
    "'overlap' is for attach only"
ctl_err '{"cmd":"attach","stream":1,"variant":"nope","output":"ts","overlap":true}' \
    "no variant 'nope'"
assert_eq "no private pipeline left by the bad requests" absent \
    "$(private 1 state)"

note "reloads: one that leaves channel 1 alone keeps the private pipeline;"
note "one that changes it ends the overlap connection"
$CTL -s "$SOCK" --timeout 60 --attach 100000000 -o long.ts \
    '{"cmd":"attach","stream":1,"output":"ts","overlap":true}' \
    >long.out 2>long.err &
LONG=$!
HOLD_PIDS=$LONG
attach sh 1000 '{"cmd":"attach","stream":1,"output":"ts"}'
poll "a private pipeline of channel 1 running" 20 has_private
shared_running() { [ "$(shared 1 state)" = running ]; }
poll "the shared one too" 20 shared_running
PSTART=$(private 1 started)
sleep 1.1
sed -i 's/"Own"/"Eigen"/' amps.conf
ctl_ok '{"cmd":"reload"}'
renamed() { [ "$(sqlite3 amps.db 'SELECT name FROM channels WHERE id = 2')" = Eigen ]; }
poll "channel 2 renamed by the reload" 10 renamed
sleep 0.5
assert_eq "private pipeline kept by a reload of another channel" "$PSTART" \
    "$(private 1 started)"
kill -0 "$LONG" 2>/dev/null || sd_fail "the overlap client was cut off: \
$(cat long.err)"
NOV=$(grep -c 'overlap pipeline [0-9]* started' streamd.log)
sed -i 's/name = "Ladder";/name = "Ladder"; segment_duration = 4;/' amps.conf
ctl_ok '{"cmd":"reload"}'
long_done() { ! kill -0 "$LONG" 2>/dev/null; }
poll "the overlap connection ended by the change of its channel" 15 long_done
LONG_RC=0
wait "$LONG" || LONG_RC=$?
assert_eq "the overlap client saw its stream end" 2 "$LONG_RC"
assert_match "closed by streamd" 'closed after [0-9]+ of' "$(cat long.err)"
poll "no private pipeline after the change" 10 no_private
grep -q 'stream 1: changed; stopping an overlap pipeline' streamd.log ||
    sd_fail "the end of the overlap pipeline is not logged"
assert_eq "no overlap pipeline started by the reload" "$NOV" \
    "$(grep -c 'overlap pipeline [0-9]* started' streamd.log)"
grep -q 'stream 1: changed; restarting' streamd.log ||
    sd_fail "the shared pipeline of channel 1 was not restarted"
[ "$(pipes 1 | wc -l)" -le 1 ] ||
    sd_fail "more than the shared pipeline of channel 1 after the change: $(pipes 1)"
leave sh
HOLD_PIDS=

no_zombies "at the end"
streamd_stop "SIGTERM"
assert_eq "exit status on SIGTERM" 0 "$SD_STATUS"
assert_eq "pipeline_status: no row left running" "" "$(sqlite3 amps.db \
    "SELECT channel_id, variant, state FROM pipeline_status
    WHERE state != 'stopped'")"
echo "attach: ok"
