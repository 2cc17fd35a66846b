# Integration test of live delivery end to end through both real web
# servers: lighttpd (amps serve: lighttpd, the amps.fcgi it spawns,
# streamd) and Apache (apache/amps.conf.in, with amps.fcgi on a unix
# socket, a second amps.fcgi on TCP as the authorizer of media requests,
# and streamd, all started by the test).  The same checks (md_run) go
# through each, with auth on, against channels fed by a real H.264 + AAC
# file made by ffmpeg at test time and looped in real time:
#
#   on demand   a DASH channel that is not running starts when its
#               manifest is asked for and answers 200 within
#               ensure_timeout; the next answer is the web server's
#               static file (ETag or Last-Modified, 304 on If-None-Match);
#               a channel whose source is missing is a 503 with a JSON
#               body;
#   media       ffprobe finds the expected codecs, and ffmpeg decodes 5 s
#               without an error message, on /stream/1 (the signed URL of
#               /playlist.m3u, and ?token=KEY), /audio/1, the signed HLS
#               URL of /playlist.m3u?format=hls, /dash/4/manifest.mpd and
#               /stream/2?variant=tiny (at the variant's 160x90); the
#               Content-Type of /stream and /audio;
#   auth        401 with a JSON body without credentials (playlist, a
#               real segment, /stream/1, /audio/1, the DASH manifest),
#               with a wrong token, a tampered or an expired signed URL
#               (the expired one made here with the database's secret,
#               beside a valid one made the same way that is accepted);
#               403 with a JSON body for channel 3 (regions_blocked DE)
#               with CF-IPCountry: DE or ?region=DE (playlist, segment,
#               stream), and for a URL signed for FR used from DE; 200
#               from FR;
#   LL-HLS      a blocking reload of the next segment is held (more than
#               0.3 s, less than three target durations) and then lists
#               it; one 10 segments ahead is a 400;
#   WebSocket   /ws/1 through the web server carries MPEG-TS that ffprobe
#               reads (?token= and a signed URL); without a token, 401;
#   recording   a recording of channel 3 started and stopped through the
#               API is served by the web server at its signed URL (the
#               same bytes; ffprobe, decode), with ?token=, and refused
#               without credentials (401), with another channel's signed
#               URL (401) and from DE (403);
#   viewers     two concurrent viewers of /stream/1 share one pipeline
#               (amps tuners --json), both captures decode, /api/status
#               counts 2 viewers while they watch and 0 after; a third
#               with ?overlap=true gets a second, private pipeline; the
#               channel stops after its idle timeout.
#
# After each server: no lighttpd, Apache, amps.fcgi or streamd left.  A
# server that is not installed is skipped (exit 77 when neither is).

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# probe, decode, ts_cut, adts_cut, $CTL; checks for ffmpeg, ffprobe,
# python3, jq and sqlite3.
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"
# shellcheck source=tests/integration/http-checks.sh
. "$AMPS_TEST_SRCDIR/integration/http-checks.sh"
# shellcheck source=tests/integration/servers.sh
. "$AMPS_TEST_SRCDIR/integration/servers.sh"

LIGHTTPD=$(command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd)
HAVE_LIGHTTPD=yes
[ -x "$LIGHTTPD" ] || HAVE_LIGHTTPD=
HAVE_APACHE=yes
srv_apache_find || HAVE_APACHE=
[ -n "$HAVE_LIGHTTPD$HAVE_APACHE" ] ||
    skip "neither lighttpd nor Apache is installed (tools/install-deps installs them)"
for prog in curl pgrep timeout; do
	command -v "$prog" >/dev/null 2>&1 ||
	    fail "$prog is missing (tools/install-deps installs it)"
done
FCGI=$top_builddir/cgi/amps.fcgi
for f in "$FCGI" "$STREAMD"; do
	[ -x "$f" ] || fail "$f is not built"
done
WS="python3 $AMPS_TEST_SRCDIR/blackbox/wsclient.py"
[ -r "$AMPS_TEST_SRCDIR/blackbox/wsclient.py" ] ||
    fail "$AMPS_TEST_SRCDIR/blackbox/wsclient.py is missing"

# The template of this tree, not one that make install put elsewhere.
AMPS_DATADIR=$top_srcdir
export AMPS_DATADIR

TOKEN=media-token-1234
KEY=media-viewer-key-5678
# Above 5: the authorizer tells streamd that a playlist is read at most
# every 5 s (ENSURE_EVERY_US in cgi/authz.c), so a shorter idle timeout
# stops a channel that players are still reading.
IDLE=6
ENSURE=20
# LL-HLS segment length (the target duration) of channel 1.
SEGDUR=2

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"

# Everything the web servers read (media, sockets) lives where Apache's
# workers can reach it (srv_apache_dirs); lighttpd uses the same place.
srv_apache_dirs "$T"
MEDIA=$SRV_MEDIA
RUNDIR=$SRV_WWW/run
CONF=$T/amps.conf
DB=$T/var/amps.db

MD_AUTHZ_PID=
MD_JOBS=
# Whatever happens, nothing is left running.
md_stop_all()
{
	for md_p in $MD_JOBS; do
		kill "$md_p" 2>/dev/null
	done
	srv_kill "$MD_AUTHZ_PID"
	MD_AUTHZ_PID=
	srv_stop_all
}
trap 'md_rc=$?; md_stop_all; streamd_kill; (exit $md_rc); cleanup' EXIT

note "test media: 24 s of H.264 (2 s GOP) and AAC"
SRC=$T/src/av.ts
# shellcheck disable=SC2086
m_ffmpeg "$SRC" $M_VIDEO $M_AUDIO -t 24 $M_VENC $M_AENC -f mpegts
[ -s "$SRC" ] || fail "no test media"

LOOP='input_args = [ "-re", "-stream_loop", "-1" ];'
if [ "$(id -u)" -eq 0 ]; then
	# Apache's workers (SRV_RUN_USER) connect to the WebSocket socket.
	GROUP_LINE="control_socket_group = \"$SRV_RUN_GROUP\";"
else
	GROUP_LINE=
fi

# md_conf PORT: the test's amps.conf, with lighttpd on PORT.
md_conf()
{
	cat >"$CONF" <<EOF
server = {
	listen = "127.0.0.1:$1";
	database = "var/amps.db";
	media_root = "$MEDIA";
	control_socket = "$RUNDIR/streamd.sock";
	ws_socket = "$RUNDIR/ws.sock";
	$GROUP_LINE
	control_socket_mode = "0660";
	idle_timeout = $IDLE;
	cleanup_delay = 2;
	ensure_timeout = $ENSURE;
	input_timeout = 5;
	stall_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
auth = {
	enabled = true;
	token = "$TOKEN";
	keys = ( { name = "tv"; key = "$KEY"; role = "viewer"; } );
};
ffmpeg_profiles = {
	small = { video_codec = "libx264"; preset = "ultrafast";
	    size = "320x180"; video_bitrate = "200k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "48k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
	tiny = { video_codec = "libx264"; preset = "ultrafast";
	    size = "160x90"; video_bitrate = "100k"; gop = 50;
	    audio_codec = "aac"; audio_bitrate = "32k";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "Live"; source = "$SRC"; ffmpeg_profile = "copy";
	  $LOOP output_format = "ll-hls"; segment_duration = $SEGDUR;
	  playlist_size = 6; },
	{ id = 2; name = "Ladder"; source = "$SRC"; ffmpeg_profile = "copy";
	  $LOOP output_format = "hls"; segment_duration = 2;
	  adaptive_bitrates = (
		{ name = "small"; label = "180p"; ffmpeg_profile = "small"; },
		{ name = "tiny"; label = "90p"; ffmpeg_profile = "tiny"; }
	  ); },
	{ id = 3; name = "Not in DE"; source = "$SRC"; ffmpeg_profile = "copy";
	  $LOOP output_format = "hls"; segment_duration = 2;
	  regions_blocked = [ "DE" ]; },
	{ id = 4; name = "DASH"; source = "$SRC"; ffmpeg_profile = "copy";
	  $LOOP output_format = "dash"; segment_duration = 2;
	  playlist_size = 6; },
	{ id = 5; name = "Missing"; source = "$T/src/missing.ts";
	  ffmpeg_profile = "copy"; output_format = "hls"; }
);
EOF
}

# --- helpers -------------------------------------------------------------

# now_ms: a monotonic-enough clock in milliseconds.
now_ms()
{
	echo $(( $(date +%s%N) / 1000000 ))
}

# md_tuners ID [OVERLAP]: prints how many pipelines streamd runs for
# channel ID (amps tuners --json), all of them, or only those whose
# overlap is OVERLAP (true or false).
md_tuners()
{
	run_amps -c "$CONF" tuners --json
	expect_rc "amps tuners --json" 0
	printf '%s\n' "$OUT" | jq --argjson s "$1" --arg o "${2:-}" \
	    '[.[] | select(.stream == $s and ($o == "" or
	    (.overlap | tostring) == $o))] | length' ||
	    fail "amps tuners --json: not JSON: $OUT"
}

# md_status ID FIELD: FIELD of channel ID's main rendition in /api/status.
md_status()
{
	curl -sS --max-time 10 -H "X-Amps-Token: $TOKEN" \
	    "$HC_BASE/api/status" >"$T/status.json" ||
	    fail "GET /api/status failed"
	jq -r --argjson s "$1" --arg f "$2" '[.streams[] | select(.id == $s
	    and (.variant == null or .variant == ""))][0][$f] | tostring' \
	    "$T/status.json" ||
	    fail "/api/status: not JSON: $(head -c 400 "$T/status.json")"
}

# md_wait WHAT SECONDS COMMAND...: runs COMMAND every 0.25 s until it
# prints MD_WANT; fails after SECONDS.
md_wait()
{
	mw_what=$1
	mw_secs=$2
	mw_end=$(( $(date +%s) + mw_secs ))
	shift 2
	while :; do
		MD_GOT=$("$@")
		[ "$MD_GOT" = "$MD_WANT" ] && return 0
		[ "$(date +%s)" -lt "$mw_end" ] ||
		    fail "$mw_what: expected [$MD_WANT] within $mw_secs s, got [$MD_GOT]"
		sleep 0.25
	done
}

# last_msn FILE: the media sequence number of the last whole segment of
# the HLS playlist FILE (-1 when it lists none).
last_msn()
{
	awk -F: '/^#EXT-X-MEDIA-SEQUENCE:/ { seq = $2 + 0 }
	    /^#EXTINF:/ { n++ }
	    END { print seq + n - 1 }' "$1"
}

# last_segment FILE: the URI of the last whole segment of FILE.
last_segment()
{
	awk '/^#EXTINF:/ { want = 1; next }
	    want && !/^#/ && NF { uri = $0; want = 0 }
	    END { print uri }' "$1" | tr -d '\r'
}

# sign ID EXPIRY REGION: a signed media token made as access_sign does,
# with the database's secret.
sign()
{
	python3 - "$SECRET" "$1" "$2" "$3" <<'EOF'
import hashlib, hmac, sys
secret, sid, expiry, region = sys.argv[1:]
msg = "amps-media|%s|%s|%s" % (sid, expiry, region)
mac = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
print("%s.%s.%s" % (expiry, region, mac[:32]))
EOF
}

# playlist_wait PATH [CURL ARGS...]: asks for the HLS playlist PATH
# until it answers 200 and lists a whole segment (the first request
# starts the channel; the on-demand answer itself is checked elsewhere);
# the last answer is hc_req's.
playlist_wait()
{
	pw_path=$1
	shift
	pw_n=0
	while :; do
		hc_req GET "$pw_path" --max-time $((ENSURE + 10)) "$@"
		[ "$CODE" = 200 ] && [ -n "$(last_segment "$HC_B")" ] && return 0
		pw_n=$((pw_n + 1))
		[ "$pw_n" -lt 40 ] ||
		    fail "$S: no segment in $pw_path within 20 s: HTTP $CODE $(hc_body)"
		sleep 0.5
	done
}

# refused WHAT CODE PATH [CURL ARGS...]: PATH is refused with CODE and a
# JSON error body.
refused()
{
	rf_what=$1
	rf_code=$2
	rf_path=$3
	shift 3
	hc_req GET "$rf_path" --max-time 20 "$@"
	hc_expect "$rf_what ($rf_path)" "$rf_code"
	hc_json_error "$rf_what ($rf_path)"
}

# mpd_segments: the segments that the first SegmentTimeline of the MPD
# on standard input lists (0 when there is none).
mpd_segments()
{
	python3 -c '
import sys, xml.etree.ElementTree as ET
try:
    root = ET.fromstring(sys.stdin.read())
except ET.ParseError:
    print(0)
    sys.exit(0)
ns = "{urn:mpeg:dash:schema:mpd:2011}"
tl = root.find(".//%sSegmentTimeline" % ns)
print(0 if tl is None else sum(1 + int(s.get("r", "0"))
    for s in tl.findall("%sS" % ns)))'
}

# media_job NAME URL [hls|dash]: in the background, ffprobe (NAME.probe,
# NAME.perr) then ffmpeg -t 5 (NAME.ferr, NAME.frc) on URL.  With hls,
# first waits until the playlist at URL lists a whole segment: a
# just-started LL-HLS playlist may list only a part, which ffmpeg (no
# LL-HLS client) reads as a playlist without media.  With dash, until
# the manifest lists 3 segments: ffmpeg 5.1's DASH demuxer, started on a
# live manifest of one segment, reads the first audio segment twice
# ("non monotonically increasing dts").
media_job()
{
	(
		n=0
		case ${3:-} in
		hls)
			until curl -s --max-time 30 "$2" 2>/dev/null |
			    grep -q '^#EXTINF:'; do
				n=$((n + 1))
				[ "$n" -lt 60 ] || break
				sleep 0.5
			done
			;;
		dash)
			until [ "$(curl -s --max-time 30 "$2" 2>/dev/null |
			    mpd_segments)" -ge 3 ]; do
				n=$((n + 1))
				[ "$n" -lt 60 ] || break
				sleep 0.5
			done
			;;
		esac
		rc=0
		timeout 40 ffprobe -v error -show_entries \
		    stream=codec_name,width,height -of json "$2" \
		    >"$1.probe" 2>"$1.perr" || rc=$?
		echo "$rc" >"$1.prc"
		rc=0
		timeout 60 ffmpeg -nostdin -v error -i "$2" -t 5 -f null - \
		    >/dev/null 2>"$1.ferr" || rc=$?
		echo "$rc" >"$1.frc"
	) &
	MD_JOBS="$MD_JOBS $!"
}

# header_job NAME URL: in the background, the headers of URL (3 s of a
# never-ending answer) into NAME.h.
header_job()
{
	curl -s -o /dev/null -D "$1.h" --max-time 3 "$2" &
	MD_JOBS="$MD_JOBS $!"
}

# media_check NAME URL STREAMS...: what media_job NAME found: ffprobe
# listed exactly STREAMS ("codec" or "codec WxH", in any order), and
# ffmpeg decoded 5 s, exit status 0, no error message.
media_check()
{
	mc_n=$1
	mc_url=$2
	shift 2
	assert_eq "ffprobe $mc_url: exit status ($(cat "$mc_n.perr"))" 0 \
	    "$(cat "$mc_n.prc")"
	mc_got=$(jq -r '.streams[] | [.codec_name, (if .width then
	    "\(.width)x\(.height)" else empty end)] | join(" ")' \
	    "$mc_n.probe" | sort | tr '\n' ';')
	mc_want=$(printf '%s\n' "$@" | sort | tr '\n' ';')
	assert_eq "ffprobe $mc_url: streams" "$mc_want" "$mc_got"
	assert_eq "ffmpeg -t 5 $mc_url: exit status ($(cat "$mc_n.ferr"))" 0 \
	    "$(cat "$mc_n.frc")"
	assert_eq "ffmpeg -t 5 $mc_url: error messages" "" \
	    "$(cat "$mc_n.ferr")"
}

# jobs_wait: waits for the background jobs of media_job and header_job.
jobs_wait()
{
	for jw_p in $MD_JOBS; do
		wait "$jw_p" 2>/dev/null
	done
	MD_JOBS=
}

# --- the checks, through one web server ----------------------------------

# md_run BASE NAME: every check through the web server at BASE.
md_run()
{
	HC_BASE=$1
	S=$2
	D=$T/$S
	mkdir -p "$D" || fail "mkdir $D"
	cd "$D" || fail "cd $D"
	key="token=$KEY"

	note "$S: on demand: DASH channel 4 starts when its manifest is asked for"
	assert_eq "$S: channel 4 runs before anyone asked" 0 "$(md_tuners 4)"
	[ ! -e "$MEDIA/dash/4/manifest.mpd" ] ||
	    fail "$S: $MEDIA/dash/4/manifest.mpd is there before the start"
	t0=$(now_ms)
	# Behind Apache the first answer is a 307 back to the same URL
	# (cgi/authz.c): players follow it, and so does curl -L.
	hc_req GET "/dash/4/manifest.mpd?$key" -L --max-time $((ENSURE + 10))
	t1=$(now_ms)
	hc_expect "$S: on-demand manifest" 200
	[ $((t1 - t0)) -lt $((ENSURE * 1000)) ] ||
	    fail "$S: the on-demand manifest took $((t1 - t0)) ms"
	assert_match "$S: on-demand manifest body" '<MPD ' "$(hc_body)"
	assert_eq "$S: on-demand manifest type" application/dash+xml \
	    "$(hc_hdr Content-Type)"
	assert_eq "$S: channel 4 runs after the request" 1 "$(md_tuners 4)"
	note "$S: on-demand start took $((t1 - t0)) ms"
	hc_req GET "/dash/4/manifest.mpd?$key"
	hc_expect "$S: manifest again" 200
	assert_eq "$S: manifest again: type" application/dash+xml \
	    "$(hc_hdr Content-Type)"
	assert_eq "$S: manifest again: the web server's cache header" no-cache \
	    "$(hc_hdr Cache-Control)"
	etag=$(hc_hdr ETag)
	lm=$(hc_hdr Last-Modified)
	[ -n "$etag$lm" ] ||
	    fail "$S: the manifest is not the web server's static file (no ETag, no Last-Modified)"
	if [ -n "$etag" ]; then
		hc_req GET "/dash/4/manifest.mpd?$key" -H "If-None-Match: $etag"
		# streamd may have rewritten it in between: then a new tag.
		if [ "$CODE" != 304 ]; then
			hc_expect "$S: manifest If-None-Match" 200
			[ "$(hc_hdr ETag)" != "$etag" ] ||
			    fail "$S: If-None-Match of the current ETag: 200 with the same ETag"
		fi
	fi

	note "$S: a channel whose source is missing: 503"
	t0=$(now_ms)
	refused "$S: missing source" 503 "/hls/5/index.m3u8?$key" \
	    --max-time $((ENSURE + 10))
	note "$S: the 503 took $(( $(now_ms) - t0 )) ms"

	note "$S: playlists: signed URLs for /stream, and for HLS with format=hls"
	hc_req GET "/playlist.m3u?token=$TOKEN"
	hc_expect "$S: playlist" 200
	STREAM1=$(grep -E "^$HC_BASE/m/[0-9]+\\.-\\.[0-9a-f]{32}/stream/1\$" \
	    "$HC_B") || fail "$S: no signed /stream/1 URL in: $(hc_body)"
	hc_req GET "/playlist.m3u?token=$TOKEN&format=hls"
	hc_expect "$S: playlist format=hls" 200
	HLS1=$(grep -E "^$HC_BASE/m/[0-9]+\\.-\\.[0-9a-f]{32}/hls/1/index\\.m3u8\$" \
	    "$HC_B") || fail "$S: no signed HLS URL of channel 1 in: $(hc_body)"
	assert_match "$S: format=hls: channel 2 (a ladder) is its master" \
	    "^$HC_BASE/m/[^/]+/hls/2/master\\.m3u8\$" "$(hc_body)"
	assert_no_match "$S: no raw token in media URLs" "$TOKEN" \
	    "$(grep -v '^#' "$HC_B")"
	TOK1=$(printf '%s\n' "$STREAM1" | sed 's|.*/m/\([^/]*\)/.*|\1|')
	# Channel 4's token, for its DASH folder.
	TOK4=$(sed -n 's|^.*/m/\([^/]*\)/hls/4/index\.m3u8$|\1|p' "$HC_B")
	[ -n "$TOK4" ] || fail "$S: no signed URL of channel 4 in: $(hc_body)"

	note "$S: media through the web server (ffprobe, ffmpeg -t 5), in parallel"
	media_job stream-signed "$STREAM1"
	media_job stream-key "$HC_BASE/stream/1?$key"
	media_job audio "$HC_BASE/audio/1?$key"
	media_job hls "$HLS1" hls
	# (A ?token= is not carried to the segments that a manifest names;
	# the signed prefix is.)
	DASH4=$HC_BASE/m/$TOK4/dash/4/manifest.mpd
	media_job dash "$DASH4" dash
	media_job variant "$HC_BASE/stream/2?variant=tiny&$key"
	header_job stream "$HC_BASE/stream/1?$key"
	header_job audio "$HC_BASE/audio/1?$key"

	note "$S: auth (while those run)"
	# A real segment of channel 1's playlist (which the jobs started).
	playlist_wait "/hls/1/index.m3u8?$key"
	SEG1=$(last_segment "$HC_B")
	case $SEG1 in
	*/*|"") fail "$S: a segment URI that is not a plain name: [$SEG1]" ;;
	esac
	hc_req GET "/hls/1/$SEG1?$key"
	hc_expect "$S: segment $SEG1 with the key" 200
	assert_eq "$S: segment type" video/mp2t "$(hc_hdr Content-Type)"
	hc_req GET "/m/$TOK1/hls/1/$SEG1"
	hc_expect "$S: segment $SEG1 with the signed prefix" 200
	for p in /hls/1/index.m3u8 "/hls/1/$SEG1" /stream/1 /audio/1 \
	    /dash/4/manifest.mpd; do
		refused "$S: no credential" 401 "$p"
		refused "$S: a wrong token" 401 "$p?token=wrong-token-0000"
	done
	refused "$S: a wrong key header" 401 /stream/1 -H "X-Api-Key: wrong-key-0000"
	# Tampered: the last hex digit of the MAC changed.
	bad=$(printf '%s\n' "$TOK1" | sed 's/.$//')
	case $TOK1 in
	*0) bad=${bad}1 ;;
	*) bad=${bad}0 ;;
	esac
	for p in /stream/1 /hls/1/index.m3u8 "/hls/1/$SEG1"; do
		refused "$S: a tampered signed URL" 401 "/m/$bad$p"
	done
	# Signed for channel 1, used for channel 4.
	refused "$S: a signed URL of another channel" 401 \
	    "/m/$TOK1/dash/4/manifest.mpd"
	SECRET=$(sqlite3 "$DB" 'select secret from identity') ||
	    fail "$S: no secret in $DB"
	[ -n "$SECRET" ] || fail "$S: an empty secret in $DB"
	now=$(date +%s)
	good=$(sign 1 $((now + 600)) -)
	expired=$(sign 1 $((now - 60)) -)
	hc_req GET "/m/$good/hls/1/$SEG1"
	hc_expect "$S: a URL signed here (valid for 600 s)" 200
	for p in /stream/1 /hls/1/index.m3u8 "/hls/1/$SEG1"; do
		refused "$S: an expired signed URL" 401 "/m/$expired$p"
	done

	note "$S: regions: channel 3 refuses DE"
	hc_req GET "/playlist.m3u?token=$TOKEN" -H "CF-IPCountry: FR"
	hc_expect "$S: playlist from FR" 200
	STREAM3=$(grep -E "^$HC_BASE/m/[0-9]+\\.FR\\.[0-9a-f]{32}/stream/3\$" \
	    "$HC_B") || fail "$S: no /stream/3 URL signed for FR in: $(hc_body)"
	TOK3=$(printf '%s\n' "$STREAM3" | sed 's|.*/m/\([^/]*\)/.*|\1|')
	hc_req GET "/playlist.m3u?token=$TOKEN" -H "CF-IPCountry: DE"
	hc_expect "$S: playlist from DE" 200
	assert_no_match "$S: channel 3 hidden from DE" '/stream/3$' "$(hc_body)"
	playlist_wait "/hls/3/index.m3u8?$key" -H "CF-IPCountry: FR"
	SEG3=$(last_segment "$HC_B")
	hc_req GET "/hls/3/$SEG3?$key" -H "CF-IPCountry: FR"
	hc_expect "$S: channel 3's segment from FR" 200
	hc_req GET "/m/$TOK3/hls/3/$SEG3"
	hc_expect "$S: channel 3's segment, URL signed for FR" 200
	for p in /hls/3/index.m3u8 "/hls/3/$SEG3" /stream/3; do
		refused "$S: CF-IPCountry DE" 403 "$p?$key" -H "CF-IPCountry: DE"
		refused "$S: ?region=DE" 403 "$p?$key&region=DE"
		refused "$S: a URL signed for FR, used from DE" 403 \
		    "/m/$TOK3$p" -H "CF-IPCountry: DE"
	done
	refused "$S: a URL signed for FR, used from DE (audio)" 403 \
	    "/m/$TOK3/audio/3" -H "CF-IPCountry: DE"

	note "$S: waiting for the media jobs"
	jobs_wait
	media_check stream-signed "$STREAM1" "h264 320x240" aac
	media_check stream-key "/stream/1?token=KEY" "h264 320x240" aac
	media_check audio "/audio/1?token=KEY" aac
	media_check hls "$HLS1" "h264 320x240" aac
	media_check dash "$DASH4" "h264 320x240" aac
	media_check variant "/stream/2?variant=tiny" "h264 160x90" aac
	assert_match "$S: /stream/1 status" '^HTTP/[0-9.]+ 200' \
	    "$(head -n 1 stream.h)"
	assert_eq "$S: /stream/1 type" video/mp2t \
	    "$(tr -d '\r' <stream.h | sed -n 's/^[Cc]ontent-[Tt]ype: *//p')"
	assert_match "$S: /audio/1 status" '^HTTP/[0-9.]+ 200' \
	    "$(head -n 1 audio.h)"
	assert_eq "$S: /audio/1 type" audio/aac \
	    "$(tr -d '\r' <audio.h | sed -n 's/^[Cc]ontent-[Tt]ype: *//p')"

	note "$S: LL-HLS blocking reload"
	hc_req GET "/hls/1/index.m3u8?$key"
	hc_expect "$S: LL-HLS playlist" 200
	assert_match "$S: an LL-HLS playlist" '^#EXT-X-PART:' "$(hc_body)"
	target=$(sed -n 's/^#EXT-X-TARGETDURATION:\([0-9]*\).*/\1/p' "$HC_B")
	[ -n "$target" ] || fail "$S: no target duration: $(hc_body)"
	# Right after a new segment: the next one is a segment length away.
	msn=$(last_msn "$HC_B")
	n=0
	while :; do
		hc_req GET "/hls/1/index.m3u8?$key"
		[ "$(last_msn "$HC_B")" -gt "$msn" ] && break
		n=$((n + 1))
		[ "$n" -lt 100 ] ||
		    fail "$S: channel 1's playlist does not move past $msn"
		sleep 0.1
	done
	msn=$(last_msn "$HC_B")
	t0=$(now_ms)
	hc_req GET "/hls/1/index.m3u8?$key&_HLS_msn=$((msn + 1))"
	t1=$(now_ms)
	hc_expect "$S: blocking reload of $((msn + 1))" 200
	ms=$((t1 - t0))
	note "$S: the reload of segment $((msn + 1)) was held $ms ms"
	[ "$ms" -gt 300 ] ||
	    fail "$S: the blocking reload was not held ($ms ms)"
	[ "$ms" -lt $((3 * target * 1000)) ] ||
	    fail "$S: the blocking reload took $ms ms (target duration $target s)"
	[ "$(last_msn "$HC_B")" -ge $((msn + 1)) ] ||
	    fail "$S: the held playlist does not list segment $((msn + 1)): $(hc_body)"
	refused "$S: _HLS_msn 10 ahead" 400 \
	    "/hls/1/index.m3u8?$key&_HLS_msn=$((msn + 10))"
	refused "$S: _HLS_msn 10 ahead (signed)" 400 \
	    "/m/$TOK1/hls/1/index.m3u8?_HLS_msn=$((msn + 10))"

	note "$S: WebSocket /ws/1"
	ws_base=ws://${HC_BASE#http://}
	rc=0
	$WS "$ws_base/ws/1?$key" --seconds 4 --timeout 20 --out ws.raw \
	    >ws.out 2>ws.err || rc=$?
	assert_eq "$S: wsclient ?token= exit status ($(cat ws.out ws.err))" \
	    0 "$rc"
	assert_match "$S: WebSocket handshake" '^status=101$' "$(cat ws.out)"
	assert_no_match "$S: WebSocket payload (the first message is the request target, streamd(8))" \
	    '^bytes=0$' "$(cat ws.out)"
	ts_cut ws.raw ws.ts
	[ -s ws.ts ] || fail "$S: no whole TS packets over the WebSocket"
	assert_eq "$S: ffprobe of the WebSocket's bytes" "aac;h264 320x240;" \
	    "$(probe ws.ts | sed 's/ \([0-9]*\) \([0-9]*\)$/ \1x\2/' | sort |
	    tr '\n' ';')"
	rc=0
	$WS "$ws_base/m/$TOK1/ws/1" --seconds 2 --timeout 20 --out ws2.raw \
	    >ws2.out 2>ws2.err || rc=$?
	assert_eq "$S: wsclient signed URL exit status ($(cat ws2.out ws2.err))" \
	    0 "$rc"
	[ -s ws2.raw ] || fail "$S: nothing over the signed WebSocket URL"
	rc=0
	$WS "$ws_base/ws/1" --seconds 2 --timeout 20 >ws3.out 2>ws3.err ||
	    rc=$?
	assert_eq "$S: wsclient without a token: exit status ($(cat ws3.out ws3.err))" \
	    1 "$rc"
	assert_match "$S: WebSocket without a token" '^status=401$' \
	    "$(cat ws3.out)"
	rc=0
	$WS "$ws_base/ws/1?token=wrong-token-0000" --seconds 2 --timeout 20 \
	    >ws4.out 2>ws4.err || rc=$?
	assert_match "$S: WebSocket with a wrong token ($(cat ws4.err))" \
	    '^status=401$' "$(cat ws4.out)"

	note "$S: a recording of channel 3 (A4), served by the web server"
	hc_req POST /api/streams/3/recordings/start --max-time 30 \
	    -H "X-Amps-Token: $TOKEN" -H 'Content-Type: application/json' \
	    --data '{"format": "ts"}'
	hc_expect "$S: start a recording" 201
	rec=$(jq -r .id "$HC_B")
	case $rec in
	''|*[!0-9]*) fail "$S: no recording id in: $(hc_body)" ;;
	esac
	sleep 4
	hc_req POST /api/streams/3/recordings/stop --max-time 30 \
	    -H "X-Amps-Token: $TOKEN" -H 'Content-Type: application/json' \
	    --data "{\"id\": $rec}"
	hc_expect "$S: stop the recording" 200
	hc_req GET "/api/recordings/$rec" -H "X-Api-Key: $KEY"
	hc_expect "$S: the recording" 200
	jq -e '.state == "stopped" and .bytes > 0' "$HC_B" >/dev/null ||
	    fail "$S: recording $rec: $(hc_body)"
	rec_url=$(jq -r .url "$HC_B")
	rec_file=$(jq -r .file "$HC_B")
	printf '%s\n' "$rec_url" | grep -Eq \
	    "^$HC_BASE/m/[0-9]+\\.-\\.[0-9a-f]{32}/$rec_file\$" ||
	    fail "$S: the recording's URL is not signed: $rec_url"
	curl -sS --max-time 20 -o rec.ts -w '%{http_code}' "$rec_url" \
	    >rec.code || fail "$S: GET $rec_url"
	assert_eq "$S: the signed recording URL" 200 "$(cat rec.code)"
	cmp -s rec.ts "$MEDIA/${rec_file#rec/}" 2>/dev/null ||
	    cmp -s rec.ts "$MEDIA/$rec_file" ||
	    fail "$S: the web server sent other bytes than $rec_file"
	assert_eq "$S: ffprobe of the recording" "aac;h264 320x240;" \
	    "$(probe rec.ts | sed 's/ \([0-9]*\) \([0-9]*\)$/ \1x\2/' | sort |
	    tr '\n' ';')"
	decode rec.ts
	refused "$S: a recording without credentials" 401 "/$rec_file"
	refused "$S: a recording with channel 1's signed URL" 401 \
	    "/m/$TOK1/$rec_file"
	refused "$S: a recording of channel 3 from DE" 403 "/$rec_file?$key" \
	    -H 'CF-IPCountry: DE'
	hc_req GET "/$rec_file?$key"
	hc_expect "$S: the recording with ?token=" 200

	note "$S: two viewers of /stream/1 share one pipeline"
	curl -s --max-time 10 -o v1.raw "$HC_BASE/stream/1?$key" &
	v1=$!
	curl -s --max-time 10 -o v2.raw -H "X-Api-Key: $KEY" \
	    "$HC_BASE/stream/1" &
	v2=$!
	MD_JOBS="$v1 $v2"
	MD_WANT=2
	md_wait "$S: /api/status viewers of channel 1" 6 md_status 1 viewers
	assert_eq "$S: pipelines of channel 1 with two viewers" 1 \
	    "$(md_tuners 1)"
	curl -s --max-time 6 -o v3.raw "$HC_BASE/stream/1?$key&overlap=true" &
	v3=$!
	MD_JOBS="$MD_JOBS $v3"
	MD_WANT=1
	md_wait "$S: an overlap pipeline of channel 1" 5 md_tuners 1 true
	assert_eq "$S: the shared pipeline of channel 1 beside it" 1 \
	    "$(md_tuners 1 false)"
	jobs_wait
	for v in v1 v2 v3; do
		ts_cut $v.raw $v.ts
		[ "$(stat -c %s $v.ts)" -gt 100000 ] ||
		    fail "$S: viewer $v got $(stat -c %s $v.ts) bytes"
		decode $v.ts
	done
	MD_WANT=0
	md_wait "$S: /api/status viewers of channel 1 after they left" 6 \
	    md_status 1 viewers
	MD_WANT=0
	md_wait "$S: the overlap pipeline after its viewer left" 5 \
	    md_tuners 1 true
	note "$S: channel 1 stops after its idle timeout ($IDLE s)"
	t0=$(now_ms)
	n=0
	while [ "$(md_status 1 state)" = running ]; do
		n=$((n + 1))
		[ "$n" -lt $(( (IDLE + 12) * 4 )) ] ||
		    fail "$S: channel 1 still runs $((IDLE + 12)) s after its viewers left"
		sleep 0.25
	done
	note "$S: channel 1 left running $(( $(now_ms) - t0 )) ms later"
	assert_eq "$S: pipelines of channel 1 after the idle stop" 0 \
	    "$(md_tuners 1)"
	cd "$T" || fail "cd $T"
}

# md_gone WHAT PID...: none of PIDs is left (not even a zombie).
md_gone()
{
	mg_what=$1
	shift
	for mg_p in "$@"; do
		if kill -0 "$mg_p" 2>/dev/null; then
			fail "$mg_what: process $mg_p is left: $(ps -o pid,stat,args -p "$mg_p" | tail -n 1)"
		fi
	done
}

# md_sanitizer FILE...: no sanitizer report in the logs FILE (under $T).
md_sanitizer()
{
	for ms_f in "$@"; do
		if grep -Eq 'runtime error:|Sanitizer|leak of [0-9]+ byte' \
		    "$T/$ms_f" 2>/dev/null; then
			fail "a sanitizer report in $ms_f: $(grep -E -A 20 \
			    'runtime error:|Sanitizer' "$T/$ms_f" | head -n 60)"
		fi
	done
}

# md_reset: the media a server left behind go, so that the next starts
# from nothing.
md_reset()
{
	rm -rf "$MEDIA/hls" "$MEDIA/dash"
}

RAN=

# --- lighttpd, through amps serve ----------------------------------------

if [ -n "$HAVE_LIGHTTPD" ]; then
	PORT=$(hc_free_port)
	BASE=http://127.0.0.1:$PORT
	md_conf "$PORT"
	note "lighttpd: amps serve on $BASE"
	srv_serve_start "$CONF" "$BASE" serve
	L_PID=$(pgrep -P "$SRV_SERVE_PID" -x lighttpd)
	SD=$(pgrep -P "$SRV_SERVE_PID" -x streamd)
	[ -n "$L_PID" ] || fail "no lighttpd under amps serve"
	[ -n "$SD" ] || fail "no streamd under amps serve"
	n=0
	until F_PID=$(pgrep -P "$L_PID" -x amps.fcgi); do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "no amps.fcgi under lighttpd"
		sleep 0.1
	done
	md_run "$BASE" lighttpd
	srv_serve_stop
	md_gone "after amps serve stopped" "$L_PID" "$F_PID" "$SD"
	md_sanitizer serve.err var/run/lighttpd.log
	if pgrep -f "$T/var/run/lighttpd.conf" >/dev/null; then
		fail "a lighttpd on this test's config is left"
	fi
	md_reset
	RAN="$RAN lighttpd"
fi

# --- Apache, with amps.fcgi (twice) and streamd beside it -----------------

if [ -n "$HAVE_APACHE" ]; then
	PORT=$(hc_free_port)
	BASE=http://127.0.0.1:$PORT
	md_conf "$PORT"
	run_amps -c "$CONF" init
	expect_rc "amps init" 0
	chmod -R a+rX "$MEDIA"
	note "Apache: streamd, amps.fcgi --socket $SRV_SOCK"
	srv_streamd_start "$CONF" "$T/streamd.log"
	srv_fcgi_start "$CONF"
	AUTHZ_PORT=$(hc_free_port)
	note "Apache: amps.fcgi --socket 127.0.0.1:$AUTHZ_PORT (authorizer)"
	AMPS_CONF=$CONF "$FCGI" --socket "127.0.0.1:$AUTHZ_PORT" \
	    >"$T/authz.out" 2>&1 &
	MD_AUTHZ_PID=$!
	n=0
	until python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
	    "$AUTHZ_PORT" 2>/dev/null; do
		kill -0 "$MD_AUTHZ_PID" 2>/dev/null ||
		    fail "amps.fcgi (authorizer) exited: $(cat "$T/authz.out")"
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "amps.fcgi (authorizer) does not listen"
		sleep 0.1
	done
	note "Apache on $BASE"
	A_CONF=$SRV_RUN/httpd.conf
	sed -e "s|@LISTEN_ADDRESS@|127.0.0.1|g" \
	    -e "s|@LISTEN_PORT@|$PORT|g" \
	    -e "s|@MEDIA_ROOT@|$MEDIA|g" \
	    -e "s|@FCGI_SOCKET@|$SRV_SOCK|g" \
	    -e "s|@AUTHZ_ADDRESS@|127.0.0.1:$AUTHZ_PORT|g" \
	    -e "s|@WS_SOCKET@|$RUNDIR/ws.sock|g" \
	    -e "s|@AMPS_CONF@|$CONF|g" \
	    -e "s|@RUN_DIR@|$SRV_RUN|g" \
	    -e "s|@PID_FILE@|$SRV_RUN/httpd.pid|g" \
	    -e "s|@ERROR_LOG@|$T/apache-error.log|g" \
	    -e "s|@USER@|$SRV_RUN_USER|g" \
	    -e "s|@GROUP@|$SRV_RUN_GROUP|g" \
	    -e "s|@APACHE_MODULES@|$SRV_APACHE_MODULES|g" \
	    "$top_srcdir/apache/amps.conf.in" >"$A_CONF" ||
	    fail "cannot write $A_CONF"
	assert_no_match "no placeholder left" '@[A-Z_]+@' "$(cat "$A_CONF")"
	"$SRV_APACHE" -t -f "$A_CONF" >"$T/apache-t.out" 2>&1 ||
	    fail "apache2 -t rejects the config: $(cat "$T/apache-t.out")"
	"$SRV_APACHE" -f "$A_CONF" -DFOREGROUND >"$T/apache.out" 2>&1 &
	SRV_APACHE_PID=$!
	n=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	    "$BASE/api/health")" = 200 ]; do
		kill -0 "$SRV_APACHE_PID" 2>/dev/null ||
		    fail "Apache exited: $(cat "$T/apache.out" "$T/apache-error.log" 2>/dev/null)"
		n=$((n + 1))
		[ "$n" -lt 150 ] ||
		    fail "Apache does not answer after 15 s: $(cat "$T/apache.out" "$T/apache-error.log" 2>/dev/null)"
		sleep 0.1
	done
	A_PID=$SRV_APACHE_PID
	A_KIDS=$(pgrep -P "$A_PID" | tr '\n' ' ')
	F_PID=$SRV_FCGI_PID
	Z_PID=$MD_AUTHZ_PID
	SD=$SRV_STREAMD_PID
	md_run "$BASE" apache
	A_KIDS="$A_KIDS $(pgrep -P "$A_PID" | tr '\n' ' ')"
	srv_kill "$SRV_APACHE_PID"
	SRV_APACHE_PID=
	srv_kill "$SRV_FCGI_PID"
	SRV_FCGI_PID=
	srv_kill "$MD_AUTHZ_PID"
	MD_AUTHZ_PID=
	srv_kill "$SRV_STREAMD_PID"
	SRV_STREAMD_PID=
	# shellcheck disable=SC2086
	md_gone "after Apache and the rest stopped" $A_PID $A_KIDS $F_PID \
	    $Z_PID $SD
	if pgrep -f "$A_CONF" >/dev/null; then
		fail "an Apache on this test's config is left"
	fi
	md_sanitizer streamd.log fcgi.out authz.out
	md_reset
	RAN="$RAN apache"
fi

[ -z "$(pgrep -f "$T/" 2>/dev/null)" ] ||
    fail "processes on this test's files are left: $(pgrep -af "$T/")"
if [ -z "$HAVE_LIGHTTPD" ] || [ -z "$HAVE_APACHE" ]; then
	skip "ran through$RAN only; the other web server is not installed"
fi
echo "media:$RAN: ok"
