# streamd when things go wrong: a source process killed, a source that
# ends half way, a missing source, a timestamp jump, the HLS folder
# deleted or made unwritable, a client that attaches and stops reading,
# SIGTERM in the middle of a segment; no
# zombie and no descriptor leak across stop/ensure/restart cycles; and
# max_failures giving a channel up.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
HALF=$(media_truncated)
JUMP=$(media_jump)
media_ok "$AV" "$HALF" "$JUMP"
SOCK=$SOCKDIR/streamd.sock
MEDIA=$TMPDIR_TEST/media
LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'
KILLCMD='ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i {source} -c copy -metadata service_name=amps-kill-{id} -f mpegts -'

# conf FILE DB MAX_FAILURES: the test's amps.conf.
conf()
{
	cat >"$1" <<EOF
server = {
	database = "$2";
	media_root = "media";
	control_socket = "$SOCK";
	idle_timeout = 600;
	cleanup_delay = 60;
	ensure_timeout = 10;
	input_timeout = 3;
	stall_timeout = 3;
	restart_delay_min = 1;
	restart_delay_max = 2;
	max_failures = $3;
};
ffmpeg_profiles = {
	hls2 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "Killed"; source = "$AV"; ffmpeg_profile = "hls2";
	  custom_ffmpeg = { command = "$KILLCMD"; }; },
	{ id = 2; name = "Half"; source = "$HALF"; ffmpeg_profile = "hls2";
	  input_args = [ "-re" ]; },
	{ id = 3; name = "Missing"; source = "$TMPDIR_TEST/no/such/file.ts";
	  ffmpeg_profile = "hls2"; },
	{ id = 4; name = "Jump"; source = "$JUMP"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 5; name = "Deleted"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 6; name = "Unwritable"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP },
	{ id = 7; name = "Bystander"; source = "$AV"; ffmpeg_profile = "hls2"; $LOOP }
);
EOF
}

conf amps.conf amps.db 0
run_amps -c amps.conf check-config
expect_rc "check-config" 0
streamd_start amps.conf streamd.log
note "streamd $SD_PID up"

# The source that ends (2) may end before it counts as playable: its
# ensure starts it, whatever the answer.
$CTL -s "$SOCK" --timeout 30 '{"cmd":"ensure","stream":2,"output":"hls"}' \
    >e2.out 2>e2.err &
E2=$!
BG=
for id in 1 4 5 6 7; do
	$CTL -s "$SOCK" --timeout 30 \
	    "{\"cmd\":\"ensure\",\"stream\":$id,\"output\":\"hls\"}" \
	    >"e$id.out" 2>"e$id.err" &
	BG="$BG $id:$!"
done
for b in $BG; do
	wait "${b#*:}" || sd_fail "ensure ${b%%:*}: $(cat "e${b%%:*}.err")"
	jq -e '.ok == true' "e${b%%:*}.out" >/dev/null ||
	    sd_fail "ensure ${b%%:*}: $(cat "e${b%%:*}.out")"
done

wait "$E2" || sd_fail "ensure 2: $(cat e2.err)"
note "ensure of the source that ends: $(cat e2.out)"

note "a missing source: ensure fails in time, with the reason"
T0=$(date +%s)
ctl_err '{"cmd":"ensure","stream":3,"output":"hls"}' '.'
T1=$(date +%s)
[ $((T1 - T0)) -le 12 ] ||
    sd_fail "ensure of a missing source answered after $((T1 - T0)) s (ensure_timeout 10)"
has_error() { pl 3; [ "$(plf last_error)" != null ] && [ "$(plf last_error)" != absent ]; }
poll "last_error of the missing source" 5 has_error
note "missing source: $(plf state): $(plf last_error)"

note "the source process is killed"
P1=$MEDIA/hls/1/index.m3u8
hlscheck "before the kill" "$P1" --live
SEQ_LAST=$(($(hls_get media_sequence) + $(hls_get segments) - 1))
R0=$(st 1 restarts)
KID=$(pgrep -P "$SD_PID" -f 'service_name=amps-kill-1( |$)')
[ -n "$KID" ] || sd_fail "no custom_ffmpeg child of streamd: $(ps -o pid,args --ppid "$SD_PID")"
note "killing custom_ffmpeg $KID (status pid $(st 1 pid))"
kill -KILL "$KID"
SEEN=
recovered()
{
	pl 1
	rc_s=$(plf state)
	case " $SEEN " in *" $rc_s "*) ;; *) SEEN="$SEEN $rc_s" ;; esac
	[ "$rc_s" = running ] && [ "$(plf restarts)" -ge $((R0 + 1)) ]
}
poll "running again with restarts > $R0 after the kill" 15 recovered
kill -0 "$SD_PID" || sd_fail "streamd died with its source"
note "states seen:$SEEN"
assert_match "backoff or starting seen after the kill" 'backoff|starting' "$SEEN"
[ "$(st 1 restarts)" -ge 1 ] || sd_fail "restarts: $(st 1 restarts)"
ps -p "$KID" -o stat= | grep -q Z && sd_fail "the killed child $KID is a zombie"
restarted_hls()
{
	hlscheck "after the kill" "$P1" --live
	[ "$(hls_get media_sequence)" -ge $((SEQ_LAST - 3)) ] ||
	    sd_fail "media sequence went back from $SEQ_LAST to $(hls_get media_sequence)"
	for d in $(hls_get discontinuity_seqs); do
		[ "$d" -gt "$SEQ_LAST" ] && return 0
	done
	return 1
}
poll "a segment after EXT-X-DISCONTINUITY numbered above $SEQ_LAST" 15 restarted_hls
no_zombies "after the kill"

note "a source that ends half way"
half_backoff()
{
	pl 2
	[ "$(plf state)" = backoff ] && [ "$(plf last_error)" != null ]
}
poll "backoff with last_error for the source that ends" 20 half_backoff
note "source ended: $(plf last_error); restarts $(plf restarts)"
R2=$(plf restarts)
half_again() { [ "$(st 2 restarts)" -gt "$R2" ]; }
poll "restarts of the ended source above $R2" 20 half_again

note "a timestamp jump of 3600 s (seen at least once by now)"
P4=$MEDIA/hls/4/index.m3u8
jumped()
{
	hlscheck "timestamp jump" "$P4" --live
	[ "$(hls_get media_sequence)" -ge 6 ]
}
poll "channel 4 past 12 s of media" 30 jumped
note "jump playlist: durations $(hls_get durations), discontinuities $(hls_get discontinuities)"
hlscheck "timestamp jump" "$P4" --live
[ "$(hls_get target_duration)" -le 3 ] ||
    sd_fail "target duration $(hls_get target_duration) for 2 s segments"

note "the HLS folder is deleted while running"
rm -rf "$MEDIA/hls/5"
back() { [ -s "$MEDIA/hls/5/index.m3u8" ] && $HLSCHECK --live --min-segments 1 \
    "$MEDIA/hls/5/index.m3u8" >/dev/null 2>&1; }
poll "channel 5's playlist recreated (with files that exist)" 15 back

note "a client that attaches and stops reading (checked below)"
$CTL -s "$SOCK" --timeout 20 --attach 1000 -o stalled.ts --hold \
    '{"cmd":"attach","stream":5,"output":"ts"}' >stalled.out 2>&1 &
STALL=$!
HOLD_PIDS=$STALL
stall_attached() { [ "$(st 5 viewers)" = 1 ]; }
poll "the stalled client counted as a viewer of channel 5" 10 stall_attached
SEQ5=$(hls_field "$MEDIA/hls/5/index.m3u8" media_sequence)

note "the HLS folder cannot be written (a file in its place)"
P7=$MEDIA/hls/7/index.m3u8
hlscheck "bystander" "$P7" --live
SEQ7=$(hls_get media_sequence)
LOGSIZE=$(stat -c %s streamd.log)
rm -rf "$MEDIA/hls/6"
: >"$MEDIA/hls/6"
reported()
{
	e=$(st 6 last_error)
	[ "$e" != null ] && [ "$e" != absent ] && return 0
	tail -c +$((LOGSIZE + 1)) streamd.log | grep -Ei 'error|warn' |
	    grep -q 'hls/6'
}
poll "the write error of channel 6 reported" 15 reported
note "channel 6: $(st 6 state): $(st 6 last_error)"
bystander() { hlscheck "bystander" "$P7" --live; [ "$(hls_get media_sequence)" -gt "$SEQ7" ]; }
poll "channel 7 goes on while 6 cannot write" 10 bystander
assert_eq "channel 7 state" running "$(st 7 state)"
rm -f "$MEDIA/hls/6"
published() { [ -s "$MEDIA/hls/6/index.m3u8" ] && $HLSCHECK --live --min-segments 1 \
    "$MEDIA/hls/6/index.m3u8" >/dev/null 2>&1; }
poll "channel 6 publishes again once writable" 20 published
poll "channel 6 running again" 10 state_is 6 running

note "... the stalled client held up nothing"
kill -0 "$STALL" 2>/dev/null || sd_fail "the stalled client: $(cat stalled.out)"
advanced5() { [ "$(hls_field "$MEDIA/hls/5/index.m3u8" media_sequence)" -ge $((SEQ5 + 3)) ]; }
poll "channel 5's HLS moving on while a ts client does not read" 15 advanced5
kill "$STALL"
wait "$STALL"
HOLD_PIDS=
stall_gone() { [ "$(st 5 viewers)" = 0 ]; }
poll "no viewer of channel 5 once the stalled client left" 10 stall_gone

note "no descriptor leak over stop / ensure / restart cycles"
ctl_ok '{"cmd":"stop","stream":2}'
ctl_ok '{"cmd":"stop","stream":3}'
ctl_ok '{"cmd":"stop","stream":4}'
ctl_ok '{"cmd":"stop","stream":1}'
child_gone() { [ -z "$(pgrep -P "$SD_PID" -f 'service_name=amps-kill-1( |$)')" ]; }
poll "the custom_ffmpeg child ends when its channel stops" 10 child_gone
for id in 1 2 3 4; do
	poll "channel $id stopped" 10 state_is "$id" stopped absent
done
# fds: the fewest descriptors of streamd in three looks.
fds()
{
	fd_min=
	while [ "${fd_look:=0}" -lt 3 ]; do
		fd_n=$(find "/proc/$SD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
		if [ -z "$fd_min" ] || [ "$fd_n" -lt "$fd_min" ]; then
			fd_min=$fd_n
		fi
		fd_look=$((fd_look + 1))
		sleep 0.2
	done
	fd_look=0
	echo "$fd_min"
}
FD0=$(fds)
for i in 1 2 3; do
	ctl_ok '{"cmd":"stop","stream":7}'
	poll "channel 7 stopped ($i)" 10 state_is 7 stopped absent
	ensure 7 hls
	ctl_ok '{"cmd":"restart","stream":7}'
	poll "channel 7 running after restart ($i)" 15 state_is 7 running
	ctl_err '{"cmd":"ensure","stream":3,"output":"hls"}' '.'
	ctl_ok '{"cmd":"stop","stream":3}'
done
poll "channel 3 stopped" 10 state_is 3 stopped absent
FD1=$(fds)
note "descriptors: $FD0 before, $FD1 after 3 cycles"
[ "$FD1" -le $((FD0 + 2)) ] ||
    sd_fail "descriptors grew from $FD0 to $FD1: $(ls -l "/proc/$SD_PID/fd")"
no_zombies "after the cycles"

note "SIGTERM in the middle of a segment"
P5=$MEDIA/hls/5/index.m3u8
LAST5=$(hls_field "$P5" last_uri)
new_segment() { [ "$(hls_field "$P5" last_uri)" != "$LAST5" ]; }
poll "a new segment of channel 5" 10 new_segment
sleep 0.9
streamd_stop "SIGTERM mid-segment"
assert_eq "exit status on SIGTERM" 0 "$SD_STATUS"
for id in 5 6 7; do
	hlscheck "channel $id after SIGTERM" "$MEDIA/hls/$id/index.m3u8" \
	    --endlist
	for u in $(hls_get uris); do
		assert_match "ffprobe $id/$u" '^h264 320 240$' \
		    "$(probe "$MEDIA/hls/$id/$u")"
	done
	decode "$MEDIA/hls/$id/$(hls_get last_uri)"
done

note "max_failures = 2: a missing source is given up"
conf maxfail.conf maxfail.db 2
streamd_start maxfail.conf maxfail.log
ctl_err '{"cmd":"ensure","stream":3,"output":"hls"}' '.'
poll "channel 3 failed after 2 failures" 15 state_is 3 failed
assert_match "failed with a reason" '.' "$(st 3 last_error | grep -v '^null$')"
no_zombies "max_failures"
streamd_stop "SIGTERM"
assert_eq "exit status" 0 "$SD_STATUS"
echo "robust: ok"
