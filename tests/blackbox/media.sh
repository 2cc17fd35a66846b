# Helpers of the streamd tests (pipeline.sh, robust.sh, control.sh);
# sourced after lib.sh, not run.
#   media_*            test media made with the ffmpeg CLI at test time,
#                      cached in the test's scratch folder (made once per
#                      run); each prints its path;
#   ts_cut, adts_cut   trim a captured raw stream to whole packets;
#   probe, packets, first_key, decode: what ffprobe and ffmpeg see;
#   streamd_start, streamd_stop, streamd_wait: streamd under test, killed
#                      by the EXIT trap whatever happens;
#   ctl, ctl_ok, ctl_err, ensure, status, pl, plf, st: its control
#                      socket (through ctl.py) and its status;
#   hlscheck, hls_get, hls_field: playlists (through hlscheck.py);
#   poll, state_is, no_zombies, sd_fail: waiting and failing.
# Every media file is small: 320x240 at 25 fps, a keyframe every 2 s
# (-g 50), libx264 ultrafast and AAC, in MPEG-TS.

for m_prog in ffmpeg ffprobe python3 jq sqlite3; do
	command -v "$m_prog" >/dev/null 2>&1 ||
	    skip "$m_prog is not installed (tools/install-deps installs it)"
done

STREAMD=$top_builddir/streamd/streamd
[ -x "$STREAMD" ] || fail "$STREAMD is not built"
CTL="python3 $AMPS_TEST_SRCDIR/blackbox/ctl.py"
HLSCHECK="python3 $AMPS_TEST_SRCDIR/blackbox/hlscheck.py"
MEDIA_DIR=$TMPDIR_TEST/src
mkdir -p "$MEDIA_DIR" || fail "mkdir $MEDIA_DIR"

M_VIDEO="-f lavfi -i testsrc2=size=320x240:rate=25"
M_AUDIO="-f lavfi -i sine=frequency=440:sample_rate=48000"
M_VENC="-c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p"
M_AENC="-c:a aac -b:a 64k -ac 2"

# m_ffmpeg OUT ARGS...: runs ffmpeg quietly; fails the test with its
# messages when it fails.
m_ffmpeg()
{
	m_out=$1
	shift
	ffmpeg -nostdin -hide_banner -loglevel error -y "$@" "$m_out" \
	    2>"$m_out.log" ||
	    fail "ffmpeg could not make $m_out: $(cat "$m_out.log")"
}

# media_av [SECONDS [OFFSET]]: prints the path of an H.264 + AAC MPEG-TS
# of SECONDS (default 12) whose timestamps start at OFFSET seconds.
media_av()
{
	ma_len=${1:-12}
	ma_off=${2:-0}
	ma_f=$MEDIA_DIR/av-$ma_len-$ma_off.ts
	if [ ! -s "$ma_f" ]; then
		# shellcheck disable=SC2086
		m_ffmpeg "$ma_f" $M_VIDEO $M_AUDIO -t "$ma_len" $M_VENC \
		    $M_AENC -output_ts_offset "$ma_off" -f mpegts
	fi
	printf '%s\n' "$ma_f"
}

# media_audio: AAC alone in MPEG-TS, 10 s.
media_audio()
{
	mu_f=$MEDIA_DIR/audio.ts
	if [ ! -s "$mu_f" ]; then
		# shellcheck disable=SC2086
		m_ffmpeg "$mu_f" $M_AUDIO -t 10 $M_AENC -f mpegts
	fi
	printf '%s\n' "$mu_f"
}

# media_video: H.264 alone in MPEG-TS, 10 s.
media_video()
{
	mv_f=$MEDIA_DIR/video.ts
	if [ ! -s "$mv_f" ]; then
		# shellcheck disable=SC2086
		m_ffmpeg "$mv_f" $M_VIDEO -t 10 $M_VENC -f mpegts
	fi
	printf '%s\n' "$mv_f"
}

# media_truncated: the first half of the 12 s file, cut in the middle of
# a packet: a source that stops half way.
media_truncated()
{
	mt_f=$MEDIA_DIR/truncated.ts
	if [ ! -s "$mt_f" ]; then
		mt_src=$(media_av 12)
		mt_size=$(stat -c %s "$mt_src")
		head -c $((mt_size / 2 + 97)) "$mt_src" >"$mt_f"
	fi
	printf '%s\n' "$mt_f"
}

# media_jump: 6 s, then 6 s whose timestamps are 3600 s later (two files
# joined with cat): a source with a timestamp jump.
media_jump()
{
	mj_f=$MEDIA_DIR/jump.ts
	if [ ! -s "$mj_f" ]; then
		cat "$(media_av 6)" "$(media_av 6 3600)" >"$mj_f"
	fi
	printf '%s\n' "$mj_f"
}

# media_ok FILE...: each FILE was made (a media_* function that failed in
# a command substitution only ended that subshell).
media_ok()
{
	for mo_f in "$@"; do
		[ -s "$mo_f" ] || fail "test media missing: [$mo_f]"
	done
}

# ts_cut IN OUT: copies the MPEG-TS IN up to its last packet that starts
# a PES or a section (payload_unit_start_indicator), so that a capture
# cut anywhere ends with whole frames: then nothing in OUT may fail to
# decode.  Fails when IN does not start with a sync byte or loses sync.
ts_cut()
{
	python3 - "$1" "$2" <<'EOF' || fail "ts_cut $1"
import sys
data = open(sys.argv[1], "rb").read()
n = len(data) // 188 * 188
cut = 0
for off in range(0, n, 188):
    if data[off] != 0x47:
        sys.exit("no sync byte at offset %d" % off)
    if data[off + 1] & 0x40:
        cut = off
open(sys.argv[2], "wb").write(data[:cut])
EOF
}

# adts_cut IN OUT: copies the ADTS frames of IN that are whole; fails when
# IN does not start with an ADTS header or a frame length leads nowhere.
adts_cut()
{
	python3 - "$1" "$2" <<'EOF' || fail "adts_cut $1"
import sys
data = open(sys.argv[1], "rb").read()
off = 0
while off + 7 <= len(data):
    if data[off] != 0xff or data[off + 1] & 0xf0 != 0xf0:
        sys.exit("no ADTS sync word at offset %d" % off)
    flen = ((data[off + 3] & 3) << 11) | (data[off + 4] << 3) | \
        (data[off + 5] >> 5)
    if flen < 7:
        sys.exit("ADTS frame length %d at offset %d" % (flen, off))
    if off + flen > len(data):
        break
    off += flen
if off == 0:
    sys.exit("no whole ADTS frame")
open(sys.argv[2], "wb").write(data[:off])
EOF
}

# probe FILE: prints "codec_name width height" of each stream, one line
# each (ffprobe's view of the file).
probe()
{
	timeout 30 ffprobe -v error -show_entries \
	    stream=codec_name,width,height -of json "$1" \
	    >"$TMPDIR_TEST/.probe.out" 2>"$TMPDIR_TEST/.probe.err" ||
	    fail "ffprobe $1: $(cat "$TMPDIR_TEST/.probe.err")"
	jq -r '.streams[] | [.codec_name, .width, .height] |
	    map(select(. != null) | tostring) | join(" ")' \
	    "$TMPDIR_TEST/.probe.out"
}

# packets FILE: prints "codec_name packets" of each stream of FILE, the
# packets counted by ffprobe.
packets()
{
	timeout 30 ffprobe -v error -count_packets -show_entries \
	    stream=codec_name,nb_read_packets -of json "$1" \
	    >"$TMPDIR_TEST/.probe.out" 2>"$TMPDIR_TEST/.probe.err" ||
	    fail "ffprobe -count_packets $1: $(cat "$TMPDIR_TEST/.probe.err")"
	jq -r '.streams[] | "\(.codec_name) \(.nb_read_packets)"' \
	    "$TMPDIR_TEST/.probe.out"
}

# first_key WHAT FILE: the first video packet of FILE is a keyframe.
first_key()
{
	fk_f=$(timeout 30 ffprobe -v error -select_streams v:0 \
	    -read_intervals '%+#1' -show_entries packet=pts_time,flags \
	    -of csv=p=0 "$2" 2>&1 | head -n 1)
	case $fk_f in
	*,K*)	;;
	*)	sd_fail "$1: the first video packet of $2 is no keyframe: [$fk_f]" ;;
	esac
}

# decode FILE: decodes every frame of FILE; fails on any error message.
decode()
{
	d_err=$(ffmpeg -nostdin -v error -i "$1" -f null - 2>&1) ||
	    fail "ffmpeg cannot decode $1: $d_err"
	[ -z "$d_err" ] || fail "decoding $1: $d_err"
}

# --- streamd under test --------------------------------------------------

SD_PID=
SD_LOG=
HOLD_PIDS=

# streamd_conf_dir: the folder that holds amps.conf and the socket: the
# scratch folder, or a short one under $TMPDIR when the scratch path
# would make the socket path too long for sun_path.
if [ ${#TMPDIR_TEST} -gt 70 ]; then
	SOCKDIR=$(mktemp -d "${TMPDIR:-/tmp}/amps-sd.XXXXXX") || fail "mktemp"
else
	SOCKDIR=$TMPDIR_TEST
fi

# streamd_start CONF LOG: starts streamd on CONF in the background
# (SD_PID) and waits until its control socket (SOCK, which the caller
# sets) answers a status request.
streamd_start()
{
	SD_LOG=$2
	rm -f "$SOCK"
	"$STREAMD" -c "$1" 2>"$SD_LOG" &
	SD_PID=$!
	ss_n=0
	while [ ! -S "$SOCK" ] || ! $CTL -s "$SOCK" --timeout 5 \
	    '{"cmd":"status"}' >/dev/null 2>&1; do
		kill -0 "$SD_PID" 2>/dev/null ||
		    fail "streamd exited at start: $(tail -n 30 "$SD_LOG")"
		ss_n=$((ss_n + 1))
		[ "$ss_n" -lt 150 ] ||
		    fail "no answer on $SOCK after 15 s: $(tail -n 30 "$SD_LOG")"
		sleep 0.1
	done
}

# streamd_stop WHAT [SIGNAL]: sends SIGNAL (TERM) and waits up to 20 s
# for streamd to exit; sets SD_STATUS.
streamd_stop()
{
	kill -"${2:-TERM}" "$SD_PID" 2>/dev/null ||
	    fail "$1: streamd is gone before SIG${2:-TERM}: $(tail -n 30 "$SD_LOG")"
	streamd_wait "$1"
}

# streamd_wait WHAT: waits up to 20 s for streamd to exit and sets
# SD_STATUS; fails when a child process of streamd outlives it or a
# sanitizer reported something in its log.
streamd_wait()
{
	sw_kids=$(pgrep -P "$SD_PID")
	sw_n=0
	while kill -0 "$SD_PID" 2>/dev/null &&
	    [ "$(ps -o stat= -p "$SD_PID" | cut -c1)" != Z ]; do
		sw_kids="$sw_kids $(pgrep -P "$SD_PID")"
		sw_n=$((sw_n + 1))
		if [ "$sw_n" -ge 200 ]; then
			kill -KILL "$SD_PID" 2>/dev/null
			wait "$SD_PID" 2>/dev/null
			SD_PID=
			fail "$1: streamd did not exit within 20 s: $(tail -n 30 "$SD_LOG")"
		fi
		sleep 0.1
	done
	SD_STATUS=0
	wait "$SD_PID" || SD_STATUS=$?
	SD_PID=
	for sw_p in $sw_kids; do
		# (A dead child that PID 1 does not reap is no leftover.)
		if kill -0 "$sw_p" 2>/dev/null &&
		    [ "$(ps -o stat= -p "$sw_p" | cut -c1)" != Z ]; then
			sw_a=$(ps -o stat=,args= -p "$sw_p")
			kill -KILL "$sw_p" 2>/dev/null
			fail "$1: streamd's child $sw_p outlived it: $sw_a"
		fi
	done
	if grep -Eq 'runtime error:|Sanitizer|leak of [0-9]+ byte' "$SD_LOG"; then
		fail "$1: a sanitizer report in the log: $(grep -E -A 20 \
		    'runtime error:|Sanitizer' "$SD_LOG" | head -n 60)"
	fi
}

# streamd_kill: the EXIT trap's part: kills what the test left running
# (streamd, its children, the ctl.py holders), then the socket folder.
streamd_kill()
{
	for sk_p in $HOLD_PIDS; do
		kill "$sk_p" 2>/dev/null
	done
	if [ -n "$SD_PID" ] && kill -0 "$SD_PID" 2>/dev/null; then
		sk_kids=$(pgrep -P "$SD_PID")
		kill -KILL "$SD_PID" 2>/dev/null
		wait "$SD_PID" 2>/dev/null
		for sk_p in $sk_kids; do
			kill -KILL "$sk_p" 2>/dev/null
		done
	fi
	if [ "$SOCKDIR" != "$TMPDIR_TEST" ]; then
		rm -rf "$SOCKDIR"
	fi
}
trap 'rc=$?; streamd_kill; (exit $rc); cleanup' EXIT

# sd_fail MESSAGE...: fails with the end of streamd's log.
sd_fail()
{
	fail "$*
--- streamd log (last 40 lines) ---
$(tail -n 40 "$SD_LOG" 2>/dev/null)"
}

# ctl REQUEST...: one connection, REQUESTs sent in turn; REPLY holds the
# reply lines; fails when one is missing.
ctl()
{
	REPLY=$($CTL -s "$SOCK" --timeout 40 "$@" 2>"$TMPDIR_TEST/.ctl.err") ||
	    sd_fail "ctl $*: no reply: $(cat "$TMPDIR_TEST/.ctl.err") $REPLY"
}

# ctl_ok REQUEST: the request must succeed ("ok": true).
ctl_ok()
{
	ctl "$1"
	printf '%s\n' "$REPLY" | jq -e '.ok == true' >/dev/null 2>&1 ||
	    sd_fail "$1: expected ok: $REPLY"
}

# ctl_err REQUEST PATTERN: the request must fail ("ok": false) with an
# "error" text that matches the extended regular expression PATTERN.
ctl_err()
{
	ctl "$1"
	ce_e=$(printf '%s\n' "$REPLY" | jq -r 'if .ok == false and
	    (.error | type) == "string" then .error else "" end' 2>/dev/null)
	[ -n "$ce_e" ] || sd_fail "$1: expected ok false and an error: $REPLY"
	printf '%s\n' "$ce_e" | grep -Eq -- "$2" ||
	    sd_fail "$1: the error does not match /$2/: $REPLY"
}

# ensure ID OUTPUT [VARIANT]: starts OUTPUT of channel ID and waits until
# it is playable; fails unless the answer is ok.
ensure()
{
	en_req=$(jq -nc --argjson s "$1" --arg o "$2" --arg v "${3:-}" \
	    '{cmd: "ensure", stream: $s, output: $o} +
	    (if $v == "" then {} else {variant: $v} end)')
	ctl_ok "$en_req"
}

# status: STATUS holds the reply of {"cmd":"status"}.
status()
{
	ctl '{"cmd":"status"}'
	STATUS=$REPLY
	printf '%s\n' "$STATUS" | jq -e '.ok == true and
	    (.pipelines | type) == "array"' >/dev/null 2>&1 ||
	    sd_fail "status: unexpected reply: $STATUS"
}

# pl ID [VARIANT]: PL holds the pipeline object of channel ID (main
# rendition, or VARIANT) from a fresh status, or null when not listed.
pl()
{
	status
	PL=$(printf '%s\n' "$STATUS" | jq -c --argjson s "$1" --arg v "${2:-}" \
	    'first(.pipelines[] | select(.stream == $s and
	    ((.variant // "") == $v))) // null')
}

# plf FIELD: prints FIELD of PL: "absent" when PL is null, lists as
# comma-separated words, null as "null".
plf()
{
	printf '%s\n' "$PL" | jq -r --arg f "$1" 'if . == null then "absent"
	    else .[$f] | if type == "array" then join(",") else tostring end
	    end'
}

# st ID FIELD [VARIANT]: prints FIELD of channel ID's pipeline from a
# fresh status, as plf does.
st()
{
	pl "$1" "${3:-}"
	plf "$2"
}

# poll WHAT SECONDS COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; fails with the log after SECONDS.
poll()
{
	po_what=$1
	po_secs=$2
	po_end=$(($(date +%s) + po_secs))
	shift 2
	while ! "$@"; do
		[ "$(date +%s)" -lt "$po_end" ] ||
		    sd_fail "$po_what: not within $po_secs s"
		sleep 0.2
	done
}

# state_is ID STATE...: channel ID's state is one of STATEs.
state_is()
{
	si_s=$(st "$1" state)
	shift
	for si_x in "$@"; do
		[ "$si_s" = "$si_x" ] && return 0
	done
	return 1
}

# hls_field PLAYLIST NAME: prints NAME from hlscheck.py's summary,
# without checking the files (empty when the playlist does not parse).
hls_field()
{
	$HLSCHECK --no-files "$1" 2>/dev/null | sed -n "s/^$2=//p"
}

# hlscheck WHAT PLAYLIST [OPTIONS...]: the playlist must pass hlscheck.py;
# HLS holds its summary.
hlscheck()
{
	hc_what=$1
	hc_pl=$2
	shift 2
	HLS=$($HLSCHECK "$@" "$hc_pl" 2>"$TMPDIR_TEST/.hls.err") ||
	    sd_fail "$hc_what: $hc_pl is not valid: $(cat "$TMPDIR_TEST/.hls.err")
--- $hc_pl ---
$(cat "$hc_pl" 2>&1)"
}

# hls_get NAME: prints NAME from the last hlscheck's summary.
hls_get()
{
	printf '%s\n' "$HLS" | sed -n "s/^$1=//p"
}

# no_zombies WHAT: no child of streamd is a zombie.
no_zombies()
{
	nz_z=$(ps -o pid=,stat=,args= --ppid "$SD_PID" | awk '$2 ~ /^Z/')
	[ -z "$nz_z" ] || sd_fail "$1: zombie children of streamd: $nz_z"
}
