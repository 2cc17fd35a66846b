#!/bin/sh
# Benchmark of live viewers through the web server: many concurrent
# viewers of one channel on /stream, beside the same bytes served as a
# static file by the same lighttpd, and the zap times of /stream and of
# a cold channel's HLS playlist beside the ffmpeg command line.  Not a
# test: it prints numbers.
#
# usage: bench/viewers.sh [BUILD]
#
#   BUILD   the build folder holding cli/amps, cgi/amps.fcgi and
#           streamd/streamd (default: $AMPS_BUILD, else build/release,
#           else build/debug under the source tree, else the current
#           folder); use an optimised build (configure CFLAGS="-O2 -g",
#           without --enable-debug) for numbers worth comparing
#
# Environment:
#   BENCH_VIEWERS=200    concurrent viewers
#   BENCH_SECONDS=60     seconds each viewer window lasts
#   BENCH_WARMUP=5       seconds between opening the connections and the
#                        start of the window
#   BENCH_ZAP_RUNS=10    runs of each zap time
#   BENCH_IDLE=2         the run's idle_timeout (s): a channel nobody
#                        watches stops that soon, so that cold runs do
#                        not pile up
#   BENCH_PHASES="live static zap"  which parts run
#   BENCH_CACHE=/tmp/amps-bench-cache  where the source is kept
#   BENCH_KEEP=1         keep the scratch folder (its path is printed)
#
# What it does: makes (once, then from the cache) a 60 s 1280x720 25 fps
# MPEG-TS source, H.264 (libx264 veryfast, 2800 kbit/s CBR, a keyframe
# every 2 s) + AAC 128 kbit/s, about 3 Mbit/s in all; writes an amps.conf
# whose channels read it with input_args = [ "-re", "-stream_loop",
# "-1" ] (real time), profile "copy"; starts "amps serve" (lighttpd,
# amps.fcgi, streamd) on a free loopback port, and then:
#   1. live: BENCH_VIEWERS viewers GET /stream/1 at once from one
#      asyncio process (bench/viewers.py) and read what comes; over the
#      window, each viewer's bytes as a fraction of the channel's real
#      time rate (the source's bytes over its duration), and the CPU
#      (utime+stime), memory (PSS, Anonymous) and threads of lighttpd,
#      amps.fcgi and streamd;
#   2. static, the reference: the same number of viewers GET a static
#      file of the same bytes (the source, repeated) under /rec/, served
#      by the same lighttpd with sendfile, each read at the channel's
#      rate (the client paces itself, and TCP makes lighttpd wait: a
#      file is not rate-limited otherwise).  That is the least any web
#      server can spend to deliver those bytes at that rate, with the
#      same connection count, the same kernel and the same client; one
#      ffmpeg per viewer (the Python predecessor's design, 16 streams at
#      most with its defaults) would cost far more and says less;
#   3. zap, BENCH_ZAP_RUNS runs each (bench/zap.py): request to first TS
#      byte of /stream/2 while another viewer is attached (running), of
#      /stream/ID for channels that never ran (cold, a new one each
#      run), and request to the first 200 of /hls/ID/index.m3u8 that
#      lists a segment (2 s segments; the authorizer starts the channel);
#      against "ffmpeg -re -i SRC -c copy -f mpegts pipe:1" until its
#      first byte, "ffmpeg -re -i SRC -c copy -f hls -hls_time 2" until
#      index.m3u8 exists, and the first byte of the static file (the
#      floor of any request through lighttpd).
# At the end it counts the warnings and errors of amps serve's logs.
#
# Needs ffmpeg, ffprobe, python3 and lighttpd (tools/install-deps).

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
case ${1:-} in
-*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
bench_build "${1:-${AMPS_BUILD:-}}" cli/amps cgi/amps.fcgi streamd/streamd
amps=$build/cli/amps
for prog in ffmpeg ffprobe python3 lighttpd; do
	command -v "$prog" >/dev/null 2>&1 ||
	    { echo "bench: $prog is missing (tools/install-deps)" >&2; exit 2; }
done

viewers=${BENCH_VIEWERS:-200}
seconds=${BENCH_SECONDS:-60}
warmup=${BENCH_WARMUP:-5}
runs=${BENCH_ZAP_RUNS:-10}
idle=${BENCH_IDLE:-2}
phases=${BENCH_PHASES:-live static zap}
cache=${BENCH_CACHE:-/tmp/amps-bench-cache}
keep=${BENCH_KEEP:-0}


# amps serve and the helpers run in a session of their own, so that a
# signal sent to this script's process group cannot end one in the
# middle of a measurement; the EXIT trap stops them by pid.
own=
command -v setsid >/dev/null 2>&1 && own=setsid

# The source, made once.
src=$cache/src-1280x720p25-60s-gop50-2800k-cbr.ts
if [ ! -s "$src" ]; then
	mkdir -p "$cache"
	say "making the source $src (once; about a minute on 2 cores)"
	ffmpeg -hide_banner -nostdin -loglevel error -y \
	    -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=8:allf=t+u" \
	    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 60 \
	    -c:v libx264 -preset veryfast -pix_fmt yuv420p \
	    -b:v 2800k -minrate 2800k -maxrate 2800k -bufsize 2800k \
	    -x264-params nal-hrd=cbr \
	    -g 50 -keyint_min 50 -sc_threshold 0 \
	    -c:a aac -b:a 128k -ac 2 -f mpegts "$src.part"
	mv "$src.part" "$src"
fi
src_bytes=$(wc -c <"$src" | tr -d ' ')
src_dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$src")
# The channel's real-time rate, bytes per second.
rate=$(awk -v b="$src_bytes" -v d="$src_dur" 'BEGIN { printf "%.0f", b / d }')
rate_mbit=$(awk -v r="$rate" 'BEGIN { printf "%.2f", r * 8 / 1e6 }')

work=$(mktemp -d /tmp/amps-bench-viewers.XXXXXX)
serve_pid=
helper_pid=
finish()
{
	fin_rc=$?
	trap - EXIT HUP INT TERM
	[ -z "$helper_pid" ] || kill -TERM "$helper_pid" 2>/dev/null || true
	[ -z "$helper_pid" ] || wait "$helper_pid" 2>/dev/null || true
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid"
		wait "$serve_pid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ] || [ "$fin_rc" -ne 0 ]; then
		echo "bench: files kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
cd "$work"
# The helpers' messages, kept apart from the report.
BENCH_HELPER_LOG=helpers.log


port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# The channels: 1 the viewers' channel, 2 the running zap channel,
# 101.. the cold /stream runs, 201.. the cold HLS runs (a channel that
# never ran for each run).
loop='input_args = [ "-re", "-stream_loop", "-1" ];'
{
	cat <<EOF
server = {
	listen = "127.0.0.1:$port";
	database = "var/amps.db";
	media_root = "var/media";
	control_socket = "var/streamd.sock";
	log_level = "info";
	idle_timeout = $idle;
	cleanup_delay = 0;
	ensure_timeout = 30;
};
ffmpeg_profiles = {
	zaphls = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 6; };
};
streams = (
	{ id = 1; name = "Viewers"; source = "$src"; ffmpeg_profile = "copy";
	  $loop },
	{ id = 2; name = "Zap running"; source = "$src";
	  ffmpeg_profile = "copy"; $loop },
EOF
	i=1
	while [ "$i" -le "$runs" ]; do
		printf '\t{ id = %d; name = "Zap cold %d"; source = "%s";\n' \
		    $((100 + i)) "$i" "$src"
		printf '\t  ffmpeg_profile = "copy"; %s },\n' "$loop"
		printf '\t{ id = %d; name = "Zap HLS %d"; source = "%s";\n' \
		    $((200 + i)) "$i" "$src"
		printf '\t  ffmpeg_profile = "zaphls"; %s },\n' "$loop"
		i=$((i + 1))
	done
} >amps.conf.part
# The last entry takes no comma.
sed '$ s/},$/}/' amps.conf.part >amps.conf
printf ');\n' >>amps.conf
rm -f amps.conf.part
mkdir -p var
"$amps" -c amps.conf check-config >/dev/null ||
    { echo "bench: the generated amps.conf is refused" >&2; exit 1; }
sock=$work/var/streamd.sock

# The static reference: the source repeated, longer than the warm-up
# and the window together (any byte stream does for lighttpd).
static=var/media/rec/bench
mkdir -p "$static"
copies=$(awk -v s="$seconds" -v w="$warmup" -v d="$src_dur" \
    'BEGIN { n = int((s + w + 10) / d) + 1; print n }')
i=0
while [ "$i" -lt "$copies" ]; do
	cat "$src"
	i=$((i + 1))
done >"$static/ref.ts"
# Into the page cache, as a live channel's bytes are in memory.
cat "$static/ref.ts" >/dev/null

AMPS_DATADIR=$top
export AMPS_DATADIR
$own "$amps" -c amps.conf serve >serve.out 2>serve.err &
serve_pid=$!
n=0
until grep -q '^amps: serving ' serve.out 2>/dev/null; do
	if ! kill -0 "$serve_pid" 2>/dev/null; then
		echo "bench: amps serve exited:" >&2
		cat serve.out serve.err >&2
		exit 1
	fi
	n=$((n + 1))
	[ "$n" -lt 600 ] || { echo "bench: amps serve does not start" >&2; exit 1; }
	sleep 0.1
done
lighttpd_pid=$(sed -n 's/.*lighttpd pid \([0-9]*\).*/\1/p' serve.out)
streamd_pid=$(sed -n 's/.*streamd pid \([0-9]*\).*/\1/p' serve.out)
n=0
fcgi_pid=
while [ -z "$fcgi_pid" ]; do
	fcgi_pid=$(pgrep -P "$lighttpd_pid" -x amps.fcgi || true)
	n=$((n + 1))
	[ "$n" -lt 100 ] || { echo "bench: no amps.fcgi under lighttpd" >&2; exit 1; }
	[ -n "$fcgi_pid" ] || sleep 0.1
done
n=0
while [ ! -S "$sock" ]; do
	n=$((n + 1))
	[ "$n" -lt 300 ] || { echo "bench: streamd has no socket" >&2; exit 1; }
	sleep 0.1
done
procs="--proc lighttpd=$lighttpd_pid --proc fcgi=$fcgi_pid --proc streamd=$streamd_pid"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# check_alive WHAT: amps serve and its children are still there.
check_alive()
{
	for p in "$serve_pid" "$lighttpd_pid" "$fcgi_pid" "$streamd_pid"; do
		kill -0 "$p" 2>/dev/null || {
			echo "bench: after $1, process $p is gone:" >&2
			tail -n 20 serve.err >&2
			exit 1
		}
	done
}

# 1. Live viewers.
if has live; then
	say "live: $viewers viewers of /stream/1 for $warmup + $seconds s"
	# shellcheck disable=SC2086
	run_helper live.out python3 "$bench/viewers.py" -u "$base/stream/1" \
	    -n "$viewers" -w "$seconds" --warmup "$warmup" --expect "$rate" \
	    $procs || { echo "bench: viewers.py failed" >&2; exit 1; }
	check_alive live
	# Channel 1 stops when its last viewer has gone for $idle s.
	run_helper idle.out python3 "$bench/zap.py" idle -s "$sock" 1 ||
	    say "live: channel 1 does not stop after its viewers left"
fi

# 2. The static reference.
if has static; then
	say "static: $viewers viewers of a static file, paced at $rate_mbit Mbit/s"
	# shellcheck disable=SC2086
	run_helper static.out python3 "$bench/viewers.py" \
	    -u "$base/rec/bench/ref.ts" -n "$viewers" -w "$seconds" \
	    --warmup "$warmup" --expect "$rate" --pace "$rate" $procs ||
	    { echo "bench: viewers.py failed" >&2; exit 1; }
	check_alive static
fi

# 3. Zap.
zap_rows=
# zap_row NAME OUTFILE: a row of the zap table.
zap_row()
{
	zap_rows="$zap_rows$1 $(kv p50 "$2") $(kv p95 "$2") $(kv min "$2") $(kv max "$2") $(kv failed "$2")
"
	[ -z "$(kv error "$2")" ] || say "zap $1: $(kv error "$2")"
}
if has zap; then
	say "zap: /stream of a running channel, $runs runs"
	run_helper zap.out python3 "$bench/zap.py" first-byte -n "$runs" \
	    --hold "$base/stream/2" "$base/stream/2" ||
	    { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row stream_running zap.out
	run_helper idle.out python3 "$bench/zap.py" idle -s "$sock" 2 || true

	say "zap: /stream of a cold channel, $runs runs"
	urls=
	i=1
	while [ "$i" -le "$runs" ]; do
		urls="$urls $base/stream/$((100 + i))"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	run_helper zap.out python3 "$bench/zap.py" first-byte -n "$runs" \
	    -s "$sock" $urls || { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row stream_cold zap.out

	say "zap: HLS playlist of a cold channel, $runs runs"
	urls=
	i=1
	while [ "$i" -le "$runs" ]; do
		urls="$urls $base/hls/$((200 + i))/index.m3u8"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	run_helper zap.out python3 "$bench/zap.py" playlist -n "$runs" \
	    -s "$sock" $urls || { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row hls_cold_2s zap.out
	hls_tries=$(kv tries zap.out)
	check_alive zap

	say "zap: the references, $runs runs each"
	run_helper zap.out python3 "$bench/zap.py" first-byte -n "$runs" \
	    "$base/rec/bench/ref.ts" ||
	    { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row static_file zap.out
	mkdir -p ffzap
	run_helper zap.out python3 "$bench/zap.py" ffmpeg --ts -n "$runs" \
	    -d ffzap "$src" || { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row ffmpeg_ts zap.out
	run_helper zap.out python3 "$bench/zap.py" ffmpeg -n "$runs" \
	    --hls-time 2 -d ffzap "$src" ||
	    { echo "bench: zap.py failed" >&2; exit 1; }
	zap_row ffmpeg_hls_2s zap.out
fi

# The logs: lighttpd's (amps.fcgi writes there too) and amps serve's
# (streamd's log).
warns=$(cat serve.err var/run/lighttpd.log 2>/dev/null | grep -ciE 'warn|error|fail|drop|skip' || true)

# The report.
echo
echo "amps viewers benchmark: $viewers viewers, ${seconds} s windows after" \
    "${warmup} s; $(lighttpd -v 2>/dev/null | cut -d' ' -f1);" \
    "$(ffmpeg -version | awk 'NR == 1 { print $1, $3 }')"
echo "source: $(basename "$src"): ${src_dur%%.*} s 1280x720 25 fps H.264" \
    "2800k CBR (2 s GOP) + AAC 128k, MPEG-TS, $rate_mbit Mbit/s" \
    "($rate B/s), read with -re -stream_loop -1, profile copy"
echo "build: $build ($(sed -n 's/^CFLAGS = //p' "$build/Makefile" | head -n 1))"
echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    "x $(nproc); load average at the start $load0, at the end" \
    "$(cut -d' ' -f1-3 /proc/loadavg); took $(( $(date +%s) - t_start )) s"

# viewer_rows FILE: the per viewer table of one run.
viewer_rows()
{
	vr_n=$(kv connected "$1")
	printf '  connected %s of %s (failed %s, dropped in the window %s),' \
	    "$vr_n" "$(kv n "$1")" "$(kv failed "$1")" "$(kv dropped "$1")"
	printf ' first byte p50 %s ms, slowest %s ms\n' "$(kv ttfb_p50 "$1")" \
	    "$(kv ttfb_max "$1")"
	printf '  per viewer, of real time: min %s, p5 %s, median %s, max %s;' \
	    "$(kv frac_min "$1")" "$(kv frac_p5 "$1")" \
	    "$(kv frac_median "$1")" "$(kv frac_max "$1")"
	printf ' >= 0.95: %s of %s\n' "$(kv ok95 "$1")" "$(kv n "$1")"
	printf '  seconds without a byte: %s, in %s viewers;' \
	    "$(kv stall_s "$1")" "$(kv stall_viewers "$1")"
	printf ' delivered %s of real time in all\n' "$(awk -v b="$(kv bytes "$1")" \
	    -v r="$rate" -v n="$(kv n "$1")" -v w="$(kv window_s "$1")" \
	    'BEGIN { if (n * w * r > 0) printf "%.3f", b / (n * w * r); else print "-" }')"
	printf '  median viewer %s Mbit/s (the source: %s Mbit/s)\n' \
	    "$(awk -v r="$(kv rate_median "$1")" 'BEGIN { printf "%.2f", r * 8 / 1e6 }')" \
	    "$rate_mbit"
	printf '  %-10s %8s %10s %10s %10s %8s %12s %12s\n' "" "CPU s" \
	    "CPU %" "PSS MiB" "anon MiB" threads "CPU ms/v/s" "PSS KiB/v"
	for p in lighttpd fcgi streamd; do
		vr_cpu=$(kv "${p}_cpu_s" "$1")
		vr_pss=$(kv "${p}_pss_mib" "$1")
		printf '  %-10s %8.2f %10s %10.1f %10.1f %8s %12s %12s\n' \
		    "$([ "$p" = fcgi ] && echo amps.fcgi || echo "$p")" \
		    "$vr_cpu" \
		    "$(awk -v c="$vr_cpu" -v w="$(kv wall_s "$1")" \
		    'BEGIN { printf "%.1f", 100 * c / w }')" \
		    "$vr_pss" "$(kv "${p}_anon_mib" "$1")" \
		    "$(kv "${p}_threads" "$1")" \
		    "$(awk -v c="$vr_cpu" -v w="$(kv wall_s "$1")" -v n="$vr_n" \
		    'BEGIN { if (n > 0) printf "%.3f", 1000 * c / w / n; else print "-" }')" \
		    "$(awk -v m="$vr_pss" -v n="$vr_n" \
		    'BEGIN { if (n > 0) printf "%.0f", m * 1024 / n; else print "-" }')"
	done
	printf '  %-10s %8.2f %10s %10.1f\n' total "$(tot cpu_s "$1")" \
	    "$(awk -v c="$(tot cpu_s "$1")" -v w="$(kv wall_s "$1")" \
	    'BEGIN { printf "%.1f", 100 * c / w }')" "$(tot pss_mib "$1")"
	printf '  client CPU s %s, machine busy %s of %s cores\n' \
	    "$(kv client_cpu_s "$1")" "$(kv machine_busy "$1")" "$(nproc)"
}

# tot KEY FILE: KEY summed over lighttpd, amps.fcgi and streamd.
tot()
{
	awk -v a="$(kv "lighttpd_$1" "$2")" -v b="$(kv "fcgi_$1" "$2")" \
	    -v c="$(kv "streamd_$1" "$2")" 'BEGIN { printf "%.2f", a + b + c }'
}

if [ -s live.out ] && has live; then
	echo
	echo "1. live: $viewers viewers of /stream/1 (lighttpd -> amps.fcgi ->" \
	    "streamd), read as the bytes come"
	viewer_rows live.out
fi
if [ -s static.out ] && has static; then
	echo
	echo "2. static reference: $viewers viewers of a static file (lighttpd" \
	    "sendfile), each paced by the client at the channel's rate"
	viewer_rows static.out
fi
echo "(CPU s: utime+stime over the window; CPU ms/v/s: per viewer per" \
    "second; PSS and anon (smaps_rollup) and threads"
echo " (the most seen) at the end of the window; PSS splits shared pages" \
    "between the processes that map them)"

if [ -n "$zap_rows" ]; then
	echo
	echo "3. zap, $runs runs each, ms (percentiles by the nearest rank)"
	printf '%-34s %7s %7s %7s %7s %7s\n' "" p50 p95 min max failed
	printf '%s' "$zap_rows" | while read -r what p50 p95 mn mx failed; do
		case $what in
		stream_running) label="/stream, running, first TS byte" ;;
		stream_cold) label="/stream, cold, first TS byte" ;;
		hls_cold_2s) label="/hls playlist, cold, 2 s segments" ;;
		static_file) label="static file, first byte (floor)" ;;
		ffmpeg_ts) label="ffmpeg -f mpegts, first byte" ;;
		ffmpeg_hls_2s) label="ffmpeg -f hls 2 s, index.m3u8" ;;
		*) label=$what ;;
		esac
		printf '%-34s %7s %7s %7s %7s %7s\n' "$label" "$p50" "$p95" \
		    "$mn" "$mx" "$failed"
	done
	echo "(cold: a channel that never ran, a new one each run; the HLS" \
	    "playlist asked again at once until a 200 lists"
	echo " a segment: requests per run $hls_tries)"
fi

echo
echo "summary"
if [ -s live.out ] && has live; then
	printf '  live: %s of %s viewers got >= 95%% of real time' \
	    "$(kv ok95 live.out)" "$viewers"
	printf ' (min %s, p5 %s, median %s); dropped %s, failed %s\n' \
	    "$(kv frac_min live.out)" "$(kv frac_p5 live.out)" \
	    "$(kv frac_median live.out)" "$(kv dropped live.out)" \
	    "$(kv failed live.out)"
	printf '  live: per viewer %s ms CPU per second and %s KiB PSS' \
	    "$(awk -v c="$(tot cpu_s live.out)" -v w="$(kv wall_s live.out)" \
	    -v n="$viewers" 'BEGIN { printf "%.2f", 1000 * c / w / n }')" \
	    "$(awk -v m="$(tot pss_mib live.out)" -v n="$viewers" \
	    'BEGIN { printf "%.0f", m * 1024 / n }')"
	printf ' (lighttpd + amps.fcgi + streamd); amps.fcgi %s threads\n' \
	    "$(kv fcgi_threads live.out)"
	if [ -s static.out ] && has static; then
		printf '  live / static: CPU %s (lighttpd alone %s), PSS %s;' \
		    "$(ratio "$(tot cpu_s live.out)" "$(tot cpu_s static.out)")" \
		    "$(ratio "$(kv lighttpd_cpu_s live.out)" \
		    "$(kv lighttpd_cpu_s static.out)")" \
		    "$(ratio "$(tot pss_mib live.out)" "$(tot pss_mib static.out)")"
		printf ' static got >= 95%%: %s of %s\n' "$(kv ok95 static.out)" \
		    "$viewers"
	fi
	echo "  (the Python predecessor serves at most 16 concurrent streams" \
	    "with its defaults)"
fi
if [ -n "$zap_rows" ]; then
	printf '%s' "$zap_rows" | while read -r what p50 p95 _; do
		printf '  zap %-16s p50 %6s ms, p95 %6s ms\n' "$what" "$p50" "$p95"
	done
	printf '%s' "$zap_rows" | awk '
	    { p50[$1] = $2; p95[$1] = $3 }
	    END {
		if (p50["ffmpeg_ts"] > 0)
			printf "  /stream cold / ffmpeg mpegts: p50 %.2f, p95 %.2f\n",
			    p50["stream_cold"] / p50["ffmpeg_ts"],
			    p95["stream_cold"] / p95["ffmpeg_ts"]
		if (p50["ffmpeg_hls_2s"] > 0)
			printf "  /hls cold / ffmpeg hls 2 s: p50 %.2f, p95 %.2f\n",
			    p50["hls_cold_2s"] / p50["ffmpeg_hls_2s"],
			    p95["hls_cold_2s"] / p95["ffmpeg_hls_2s"]
	    }'
fi
printf '  streamd: a viewer fell behind %s times, dropped %s times\n' \
    "$(grep -c 'fell behind' serve.err || true)" \
    "$(grep -c 'dropping a viewer' serve.err || true)"
echo "  logs of amps serve: $warns lines with warn/error/fail/drop/skip" \
    "(serve.err, var/run/lighttpd.log; BENCH_KEEP=1 keeps them)"
if [ "$warns" -gt 0 ]; then
	cat serve.err var/run/lighttpd.log 2>/dev/null | grep -iE 'warn|error|fail|drop|skip' |
	    sed 's/^/    /' | head -n 10
fi
