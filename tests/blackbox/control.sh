# streamd's control socket and the CLI commands that use it: the socket's
# mode, malformed and oversized lines, clients that go away early,
# unknown commands, ids and variants, a slow ensure that blocks nobody
# else, leases (released by "release" or by closing the connection),
# restart, reload (SIGHUP and the command: only the changed pipeline
# restarts), stop, and shutdown (amps shutdown, and the command).
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
MEDIA=$TMPDIR_TEST/media
LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'

cat >amps.conf <<EOF
server = {
	database = "amps.db";
	media_root = "media";
	control_socket = "$SOCK";
	control_socket_mode = "0600";
	idle_timeout = 600;
	cleanup_delay = 1;
	ensure_timeout = 10;
	input_timeout = 3;
	stall_timeout = 3;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
ffmpeg_profiles = {
	hlsa = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	hlsb = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "One"; source = "$AV"; ffmpeg_profile = "hlsa"; $LOOP },
	{ id = 2; name = "Two"; source = "$AV"; ffmpeg_profile = "hlsb"; $LOOP },
	{ id = 3; name = "Mute"; source = "$AV"; ffmpeg_profile = "hlsb";
	  custom_ffmpeg = { command = "sleep 30"; }; },
	{ id = 4; name = "Ladder"; source = "$AV"; ffmpeg_profile = "hlsb"; $LOOP
	  adaptive_bitrates = ( { name = "alt"; ffmpeg_profile = "hlsb"; } ); }
);
EOF
run_amps -c amps.conf check-config
expect_rc "check-config" 0
streamd_start amps.conf streamd.log
note "streamd $SD_PID up"
assert_eq "socket mode" 600 "$(stat -c %a "$SOCK")"

# raw BYTES-COMMAND CTL-OPTIONS...: the output of ctl.py --raw fed with
# what BYTES-COMMAND (a shell command) prints; in RAW.
raw()
{
	r_cmd=$1
	shift
	RAW=$(sh -c "$r_cmd" | $CTL -s "$SOCK" --raw "$@" 2>raw.err) ||
	    sd_fail "ctl.py --raw: $(cat raw.err)"
}
# raw_line N: the Nth line of RAW.
raw_line()
{
	printf '%s\n' "$RAW" | sed -n "${1}p"
}
# is_error WHAT LINE: LINE is {"ok": false, "error": "..."}.
is_error()
{
	printf '%s\n' "$2" | jq -e '.ok == false and (.error | type) == "string"
	    and (.error | length) > 0' >/dev/null 2>&1 ||
	    sd_fail "$1: expected an error reply, got [$2]; all: $RAW"
}
# is_status WHAT LINE: LINE is a status reply.
is_status()
{
	printf '%s\n' "$2" | jq -e '.ok == true and (.pipelines | type) ==
	    "array"' >/dev/null 2>&1 ||
	    sd_fail "$1: expected a status reply, got [$2]; all: $RAW"
}

note "malformed lines get an error; the connection stays usable"
raw "printf 'not json\n[1,2]\n{\"foo\":1}\n{\"cmd\":42}\n\"cmd\"\n{\"cmd\":\"status\"\n'
    printf '\001\377\376\000garbage\200\n'
    printf '{\"cmd\":\"status\"}\n'" --lines 8 --timeout 10
i=1
for what in "not JSON" "an array" "no cmd" "a number as cmd" "a string" \
    "unterminated object" "binary garbage"; do
	is_error "$what" "$(raw_line $i)"
	i=$((i + 1))
done
is_status "status after the malformed lines" "$(raw_line 8)"
assert_eq "connection still open" "#open" "$(raw_line 9)"

note "an empty line: no success reply, and the connection goes on"
raw "printf '\n{\"cmd\":\"status\"}\n'" --timeout 1.5
N=$(printf '%s\n' "$RAW" | wc -l)
case $N in
3)	is_error "empty line" "$(raw_line 1)"
	is_status "status after an empty line" "$(raw_line 2)" ;;
2)	is_status "status after an empty line" "$(raw_line 1)" ;;
*)	sd_fail "an empty line then status: [$RAW]" ;;
esac
assert_eq "after an empty line" "#timeout" "$(printf '%s\n' "$RAW" | tail -n 1)"

note "a line of 70000 bytes: an error, then the connection is closed"
raw "printf '%70000s' '' | tr ' ' a; printf '\n{\"cmd\":\"status\"}\n'" \
    --timeout 10
is_error "70000-byte line" "$(raw_line 1)"
assert_eq "closed after a long line" "#eof" "$(raw_line 2)"
note "... even without a newline"
raw "printf '%70000s' '' | tr ' ' '{'" --timeout 10
is_error "70000 bytes without a newline" "$(raw_line 1)"
assert_eq "closed without waiting for a newline" "#eof" "$(raw_line 2)"

note "unknown commands, streams, variants and outputs"
ctl_err '{"cmd":"frobnicate"}' 'unknown command'
ctl_err '{"cmd":"ensure","stream":999,"output":"hls"}' 'no stream 999'
ctl_err '{"cmd":"lease","stream":999}' 'no stream 999'
ctl_err '{"cmd":"restart","stream":999}' 'no stream 999'
ctl_err '{"cmd":"stop","stream":999}' 'no stream 999'
ctl_err '{"cmd":"attach","stream":999,"output":"ts"}' 'no stream 999'
ctl_err '{"cmd":"ensure","stream":4,"variant":"nope","output":"hls"}' '.'
ctl_err '{"cmd":"ensure","stream":1,"variant":"nope","output":"hls"}' '.'
ctl_err '{"cmd":"ensure","stream":1,"output":"bogus"}' '.'
ctl_err '{"cmd":"ensure","output":"hls"}' '.'
ctl_err '{"cmd":"ensure","stream":"one","output":"hls"}' '.'
status
assert_eq "nothing started by the bad requests" 0 "$(printf '%s\n' \
    "$STATUS" | jq '[.pipelines[] | select(.state == "running" or
    .state == "starting")] | length')"

note "a slow ensure does not block other clients"
$CTL -s "$SOCK" --timeout 20 --time \
    '{"cmd":"ensure","stream":3,"output":"hls","timeout_ms":3000}' \
    >slow.out 2>slow.err &
SLOW=$!
started_3() { [ "$(st 3 state)" != absent ]; }
poll "channel 3 starting" 5 started_3
$CTL -s "$SOCK" --timeout 5 --time '{"cmd":"status"}' >fast.out 2>fast.err ||
    sd_fail "status while an ensure waits: $(cat fast.err)"
FAST_MS=$(sed -n 's/^elapsed_ms=//p' fast.err)
kill -0 "$SLOW" 2>/dev/null ||
    note "the slow ensure was over before status answered (not checked)"
[ "$FAST_MS" -lt 1000 ] ||
    sd_fail "status took $FAST_MS ms while an ensure was waiting"
wait "$SLOW" || sd_fail "the slow ensure got no reply: $(cat slow.err)"
SLOW_MS=$(sed -n 's/^elapsed_ms=//p' slow.err)
note "status in $FAST_MS ms; the ensure with no data failed after $SLOW_MS ms"
RAW=$(cat slow.out)
is_error "ensure of a source without data" "$RAW"
if [ "$SLOW_MS" -lt 2500 ] || [ "$SLOW_MS" -gt 6000 ]; then
	sd_fail "ensure with timeout_ms 3000 answered after $SLOW_MS ms"
fi
ctl_ok '{"cmd":"stop","stream":3}'
no_sleep() { [ -z "$(pgrep -P "$SD_PID" -x sleep)" ]; }
poll "the custom_ffmpeg child of a stopped channel ends" 10 no_sleep

note "clients that go away before their reply or in the middle of a stream"
raw "printf '{\"cmd\":\"sta'" --timeout 0.3
raw "printf '{\"cmd\":\"ensure\",\"stream\":1,\"output\":\"hls\"}\n'" --timeout 0.2
ensure 1 hls
ensure 2 hls
$CTL -s "$SOCK" --timeout 20 --attach 2000 -o early.ts \
    '{"cmd":"attach","stream":1,"output":"ts"}' >early.out 2>&1 ||
    sd_fail "attach: $(cat early.out)"
for i in 1 2 3 4 5; do
	printf '{"cmd":"status"}\n' | $CTL -s "$SOCK" --raw --timeout 0.05 \
	    >/dev/null 2>&1
done
kill -0 "$SD_PID" || sd_fail "streamd died when clients went away"
status
no_zombies "after the clients left"

note "leases"
ctl '{"cmd":"lease","stream":1}' '{"cmd":"status"}' \
    '{"cmd":"release","lease":@lease@}' '{"cmd":"status"}' \
    '{"cmd":"release","lease":@lease@}' '{"cmd":"status"}'
# viewers_in N: viewers of channel 1 in reply line N of REPLY.
viewers_in()
{
	printf '%s\n' "$REPLY" | sed -n "${1}p" | jq -r '.pipelines[] |
	    select(.stream == 1 and (.variant // "") == "") | .viewers'
}
printf '%s\n' "$REPLY" | sed -n 1p | jq -e '.ok == true and
    (.lease | type) == "number"' >/dev/null || sd_fail "lease: $REPLY"
assert_eq "viewers with a lease" 1 "$(viewers_in 2)"
printf '%s\n' "$REPLY" | sed -n 3p | jq -e '.ok == true' >/dev/null ||
    sd_fail "release: $REPLY"
assert_eq "viewers after release" 0 "$(viewers_in 4)"
assert_eq "viewers after a second release of the same lease" 0 "$(viewers_in 6)"
$CTL -s "$SOCK" --hold '{"cmd":"lease","stream":1}' >hold1.out 2>&1 &
H1=$!
$CTL -s "$SOCK" --hold '{"cmd":"lease","stream":1}' >hold2.out 2>&1 &
H2=$!
HOLD_PIDS="$H1 $H2"
viewers_are() { [ "$(st 1 viewers)" = "$1" ]; }
poll "2 viewers with two held leases" 5 viewers_are 2
jq -e '.ok == true' hold1.out >/dev/null || sd_fail "lease: $(cat hold1.out)"
kill "$H1"
wait "$H1"
poll "1 viewer once a lease holder's connection closed" 5 viewers_are 1
kill "$H2"
wait "$H2"
HOLD_PIDS=
poll "no viewers once both connections closed" 5 viewers_are 0

note "restart"
R1=$(st 1 restarts)
ctl_ok '{"cmd":"restart","stream":1}'
restarted() { pl 1; [ "$(plf restarts)" = $((R1 + 1)) ] && [ "$(plf state)" = running ]; }
poll "channel 1 restarted once (restarts $R1 + 1) and running" 15 restarted

note "reload: SIGHUP with a new name, then the reload command with a new profile"
pl 2
S2=$(plf started)
SINCE2=$(plf since)
R2=$(plf restarts)
[ "$S2" != null ] && [ "$SINCE2" != null ] ||
    sd_fail "status has no started/since: $PL"
sed -i 's/"One"/"Uno"/' amps.conf
kill -HUP "$SD_PID"
renamed() { [ "$(sqlite3 amps.db 'SELECT name FROM channels WHERE id = 1')" = Uno ]; }
poll "channel 1 renamed by SIGHUP" 10 renamed
logged() { grep -q '1 updated' streamd.log; }
poll "the reload logged" 5 logged
pl 1
S1=$(plf started)
R1=$(plf restarts)
# Let "started" (whole seconds) tell a restart from no restart.
sleep 1.1
sed -i '/^	hlsa = /,/};/s/playlist_size = 4;/playlist_size = 5;/' amps.conf
assert_eq "one profile edited" 1 "$(grep -c 'playlist_size = 5' amps.conf)"
ctl_ok '{"cmd":"reload"}'
profile_restart()
{
	pl 1
	[ "$(plf state)" = running ] || return 1
	[ "$(plf started)" -gt "$S1" ] || [ "$(plf restarts)" -gt "$R1" ]
}
poll "channel 1 restarted for its changed profile" 15 profile_restart
pl 2
assert_eq "channel 2 state after reloads" running "$(plf state)"
assert_eq "channel 2 started after reloads" "$S2" "$(plf started)"
assert_eq "channel 2 since after reloads" "$SINCE2" "$(plf since)"
assert_eq "channel 2 restarts after reloads" "$R2" "$(plf restarts)"

note "stop one output: the pipeline and its other outputs stay"
ensure 2 dash
has_dash() { case ",$(st 2 outputs)," in *,dash,*) return 0 ;; esac; return 1; }
poll "channel 2 lists dash" 10 has_dash
pl 2
S2=$(plf started)
ctl_err '{"cmd":"stop","stream":2,"output":"bogus"}' "unknown output 'bogus'"
ctl_ok '{"cmd":"stop","stream":2,"output":"dash"}'
no_dash() { ! has_dash; }
poll "dash gone from channel 2's outputs" 10 no_dash
static_mpd() { grep -q 'type="static"' "$MEDIA/dash/2/manifest.mpd"; }
poll "the removed DASH output's manifest is final" 10 static_mpd
pl 2
assert_eq "channel 2 still running" running "$(plf state)"
assert_eq "channel 2 not restarted" "$S2" "$(plf started)"
assert_match "channel 2 keeps hls" '(^|,)hls(,|$)' "$(plf outputs)"

note "stop"
ctl_ok '{"cmd":"stop","stream":1}'
poll "channel 1 stopped" 10 state_is 1 stopped absent
no_dir() { [ ! -e "$MEDIA/hls/1" ]; }
poll "channel 1's folder removed after cleanup_delay" 10 no_dir
assert_eq "channel 2 unaffected" running "$(st 2 state)"

note "still answering after all that"
status
assert_eq "status pid" "$SD_PID" "$(printf '%s\n' "$STATUS" | jq -r .pid)"
no_zombies "at the end"

note "amps shutdown"
run_amps -c amps.conf shutdown
expect_rc "amps shutdown" 0
# amps shutdown waits for streamd: by now it is gone (or a zombie that
# only this shell can reap).
if kill -0 "$SD_PID" 2>/dev/null &&
    [ "$(ps -o stat= -p "$SD_PID" | cut -c1)" != Z ]; then
	sd_fail "streamd still runs after amps shutdown returned"
fi
streamd_wait "amps shutdown"
assert_eq "exit status after amps shutdown" 0 "$SD_STATUS"
[ ! -e "$SOCK" ] || fail "the control socket is left behind"

note "the shutdown command replies first"
streamd_start amps.conf streamd2.log
ctl '{"cmd":"shutdown"}'
printf '%s\n' "$REPLY" | jq -e '.ok == true' >/dev/null ||
    sd_fail "shutdown: $REPLY"
streamd_wait "shutdown command"
assert_eq "exit status after the shutdown command" 0 "$SD_STATUS"
[ ! -e "$SOCK" ] || fail "the control socket is left behind"
echo "control: ok"
