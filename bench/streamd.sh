#!/bin/sh
# Benchmark of streamd's pipelines side by side with the ffmpeg command
# line doing the same work on the same source in the same run: relay
# cost, adaptive (ABR) transcode cost and zap time.  Not a test: it
# prints numbers.
#
# usage: bench/streamd.sh [BUILD]
#
#   BUILD   the build folder holding streamd/streamd and cli/amps
#           (default: $AMPS_BUILD, else build/release, else build/debug
#           under the source tree, else the current folder); use an
#           optimised build (configure without --enable-debug) for
#           numbers worth comparing
#
# Environment:
#   BENCH_WINDOW=30      seconds each CPU and memory window lasts
#   BENCH_WARMUP=5       seconds between "every output is playable" and
#                        the start of the window
#   BENCH_N="1 10 50"    channel counts of the relay rows
#   BENCH_RUNS=10        runs of each zap time
#   BENCH_PARTS="500 200" LL-HLS part lengths (ms) timed
#   BENCH_PHASES="relay abr zap"  which parts run
#   BENCH_CACHE=/tmp/amps-bench-cache  where the source is kept
#   BENCH_KEEP=1         keep the scratch folder (its path is printed)
#
# What it does: makes (once, then from the cache) a 60 s 1280x720 25 fps
# H.264 (libx264 veryfast, 3 Mbit/s, a keyframe every 2 s) + AAC source
# in MPEG-TS with the ffmpeg command line, writes an amps.conf whose
# channels read it with input_args = [ "-re", "-stream_loop", "-1" ],
# and then:
#   1. relay: a fresh streamd with N channels of profile "copy", HLS
#      ensured on each through the control socket, against N processes
#      of "ffmpeg -re -stream_loop -1 -i SRC -c copy -f hls -hls_time 4
#      -hls_list_size 6 -hls_flags delete_segments"; CPU seconds and
#      memory over the same window (bench/window.py);
#   2. abr: one streamd channel, 720p libx264 veryfast 2500k with 480p
#      (1200k) and 360p (700k) variants, "master" ensured, against one
#      ffmpeg with split=3 and three HLS outputs, and against three
#      ffmpeg processes, one per rendition; the three run one after the
#      other, each over the window; CPU seconds, the frame rate each
#      achieved, and CPU seconds per second of media (the fair figure
#      when the machine cannot keep real time);
#   3. zap: time from sending ensure for a channel that is not running
#      to the reply (HLS with 2 s segments; LL-HLS with each part
#      length), BENCH_RUNS times each, stopping the channel in between,
#      against "ffmpeg -re -i SRC -c copy -f hls -hls_time 2" from its
#      start until index.m3u8 exists (bench/zap.py).
# The targets of the issue: relay at most 1.0x the CPU and 0.25x the
# memory (PSS) of the ffmpeg processes; ABR at most 1.05x the CPU of the
# split run; LL-HLS zap at most 1.0 s.
#
# Needs ffmpeg, ffprobe and python3.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
case ${1:-} in
-*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
bench_build "${1:-${AMPS_BUILD:-}}" streamd/streamd
streamd=$build/streamd/streamd
for f in "$streamd" "$build/cli/amps"; do
	[ -x "$f" ] || { echo "bench: $f is not built" >&2; exit 2; }
done
for prog in ffmpeg ffprobe python3; do
	command -v "$prog" >/dev/null 2>&1 ||
	    { echo "bench: $prog is missing (tools/install-deps)" >&2; exit 2; }
done

window=${BENCH_WINDOW:-30}
warmup=${BENCH_WARMUP:-5}
ns=${BENCH_N:-1 10 50}
runs=${BENCH_RUNS:-10}
parts=${BENCH_PARTS:-500 200}
phases=${BENCH_PHASES:-relay abr zap}
cache=${BENCH_CACHE:-/tmp/amps-bench-cache}
keep=${BENCH_KEEP:-0}
maxn=0
for n in $ns; do
	[ "$n" -gt "$maxn" ] && maxn=$n
done


# Each streamd and ffmpeg runs in a session of its own, so that a signal
# sent to this script's process group (streamd stops on SIGINT even when
# started with SIGINT ignored, as background jobs are) cannot end one in
# the middle of a measurement; the EXIT trap stops them by pid.
own=
command -v setsid >/dev/null 2>&1 && own=setsid

# The source, made once.
src=$cache/src-1280x720p25-60s-gop50-3M.ts
if [ ! -s "$src" ]; then
	mkdir -p "$cache"
	say "making the source $src (once; about a minute on 2 cores)"
	ffmpeg -hide_banner -nostdin -loglevel error -y \
	    -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=8:allf=t+u" \
	    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 60 \
	    -c:v libx264 -preset veryfast -pix_fmt yuv420p \
	    -b:v 3000k -maxrate 3000k -bufsize 6000k \
	    -g 50 -keyint_min 50 -sc_threshold 0 \
	    -c:a aac -b:a 128k -ac 2 -f mpegts "$src.part"
	mv "$src.part" "$src"
fi
src_rate=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$src" |
    awk '{ printf "%.1f", $1 / 1e6 }')

work=$(mktemp -d /tmp/amps-bench-streamd.XXXXXX)
sd_pid=
ff_pids=
helper_pid=
finish()
{
	fin_rc=$?
	trap - EXIT HUP INT TERM
	[ -z "$helper_pid" ] || kill -TERM "$helper_pid" 2>/dev/null || true
	[ -z "$helper_pid" ] || wait "$helper_pid" 2>/dev/null || true
	stop_ffmpeg
	stop_streamd
	if [ "$keep" = 1 ] || [ "$fin_rc" -ne 0 ]; then
		echo "bench: files kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
cd "$work"


# verdict VALUE LIMIT: "met" when VALUE <= LIMIT.
verdict()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || a == "") print "?"
		else if (a + 0 <= b + 0) print "met"
		else print "MISSED" }'
}

# The configuration: relay channels 1..maxn, the ladder 1001, the zap
# channels 2001 (HLS) and 2002.. (LL-HLS, one per part length).
loop='input_args = [ "-re", "-stream_loop", "-1" ];'
{
	cat <<EOF
server = {
	database = "var/amps.db";
	media_root = "var/media";
	control_socket = "var/streamd.sock";
	log_level = "info";
	idle_timeout = 86400;
	cleanup_delay = 0;
	ensure_timeout = 60;
};
ffmpeg_profiles = {
	abr720 = { video_codec = "libx264"; preset = "veryfast";
	    video_bitrate = "2500k"; size = "1280x720"; gop = 50;
	    pix_fmt = "yuv420p"; audio_codec = "aac"; audio_bitrate = "128k";
	    output_format = "hls"; segment_duration = 4; playlist_size = 6; };
	abr480 = { video_codec = "libx264"; preset = "veryfast";
	    video_bitrate = "1200k"; size = "854x480"; gop = 50;
	    pix_fmt = "yuv420p"; audio_codec = "aac"; audio_bitrate = "128k";
	    output_format = "hls"; segment_duration = 4; playlist_size = 6; };
	abr360 = { video_codec = "libx264"; preset = "veryfast";
	    video_bitrate = "700k"; size = "640x360"; gop = 50;
	    pix_fmt = "yuv420p"; audio_codec = "aac"; audio_bitrate = "128k";
	    output_format = "hls"; segment_duration = 4; playlist_size = 6; };
	zaphls = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 6; };
EOF
	for p in $parts; do
		cat <<EOF
	zapll$p = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "ll-hls"; segment_duration = 2; playlist_size = 6;
	    part_duration_ms = $p; };
EOF
	done
	printf '};\nstreams = (\n'
	i=1
	while [ "$i" -le "$maxn" ]; do
		printf '\t{ id = %d; name = "Relay %d"; source = "%s";\n' \
		    "$i" "$i" "$src"
		printf '\t  ffmpeg_profile = "copy"; %s },\n' "$loop"
		i=$((i + 1))
	done
	cat <<EOF
	{ id = 1001; name = "Ladder"; source = "$src"; ffmpeg_profile = "abr720";
	  $loop
	  adaptive_bitrates = (
		{ name = "480p"; label = "480p"; ffmpeg_profile = "abr480"; },
		{ name = "360p"; label = "360p"; ffmpeg_profile = "abr360"; }
	  ); },
	{ id = 2001; name = "Zap HLS"; source = "$src"; ffmpeg_profile = "zaphls";
	  $loop },
EOF
	i=2002
	for p in $parts; do
		printf '\t{ id = %d; name = "Zap LL %s"; source = "%s";\n' \
		    "$i" "$p" "$src"
		printf '\t  ffmpeg_profile = "zapll%s"; %s },\n' "$p" "$loop"
		i=$((i + 1))
	done
} >amps.conf.part
# The last entry takes no comma.
sed '$ s/},$/}/' amps.conf.part >amps.conf
printf ');\n' >>amps.conf
rm -f amps.conf.part
mkdir -p var
"$build/cli/amps" -c amps.conf check-config >/dev/null ||
    { echo "bench: the generated amps.conf is refused" >&2; exit 1; }
sock=$work/var/streamd.sock
media=$work/var/media

start_streamd()
{
	rm -f "$sock"
	$own "$streamd" -c amps.conf 2>>streamd.log &
	sd_pid=$!
	ss_n=0
	while [ ! -S "$sock" ]; do
		kill -0 "$sd_pid" 2>/dev/null ||
		    { tail -n 20 streamd.log >&2; sd_pid=; exit 1; }
		ss_n=$((ss_n + 1))
		[ "$ss_n" -lt 300 ] ||
		    { echo "bench: streamd has no socket" >&2; exit 1; }
		sleep 0.1
	done
}

stop_streamd()
{
	[ -n "$sd_pid" ] || return 0
	kill -TERM "$sd_pid" 2>/dev/null || true
	st_n=0
	while kill -0 "$sd_pid" 2>/dev/null; do
		st_n=$((st_n + 1))
		if [ "$st_n" -ge 200 ]; then
			echo "bench: streamd does not stop on SIGTERM;" \
			    "killed" >&2
			kill -KILL "$sd_pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	st_rc=0
	wait "$sd_pid" 2>/dev/null || st_rc=$?
	[ "$st_rc" -eq 0 ] ||
	    echo "bench: streamd exited with status $st_rc" >&2
	sd_pid=
	rm -rf "$media"
}

stop_ffmpeg()
{
	for p in $ff_pids; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $ff_pids; do
		wait "$p" 2>/dev/null || true
	done
	ff_pids=
	rm -rf ff
}

# ffmpeg_bg ARGS...: one ffmpeg in the background, in the group.
ffmpeg_bg()
{
	$own ffmpeg -hide_banner -nostdin -loglevel error "$@" \
	    </dev/null >/dev/null 2>>ffmpeg.log &
	ff_pids="$ff_pids $!"
}

# wait_files TIMEOUT FILE...: until every FILE exists; wf_s: the
# seconds it took.
wait_files()
{
	wf_t=$1
	shift
	wf_0=$(date +%s.%N)
	for f in "$@"; do
		until [ -e "$f" ]; do
			for p in $ff_pids; do
				kill -0 "$p" 2>/dev/null || {
					echo "bench: an ffmpeg exited:" >&2
					tail -n 20 ffmpeg.log >&2
					exit 1
				}
			done
			if awk -v a="$wf_0" -v t="$wf_t" -v n="$(date +%s.%N)" \
			    'BEGIN { exit !(n - a > t) }'; then
				echo "bench: no $f after $wf_t s" >&2
				exit 1
			fi
			sleep 0.1
		done
	done
	wf_s=$(awk -v a="$wf_0" -v n="$(date +%s.%N)" \
	    'BEGIN { printf "%.1f", n - a }')
}

# measure OUT [window.py options] PID...: the window.
measure()
{
	m_out=$1
	shift
	sleep "$warmup"
	run_helper "$m_out" python3 "$bench/window.py" -w "$window" "$@" ||
	    { echo "bench: window.py failed" >&2; exit 1; }
}

# ensure OUTPUT ID...: ensure on streamd, all at once; en_s: the seconds
# the slowest reply took.
ensure()
{
	en_o=$1
	shift
	run_helper ensure.out python3 "$bench/zap.py" ensure -s "$sock" \
	    -o "$en_o" -t 120 "$@" || {
		echo "bench: ensure $en_o failed:" >&2
		if ! kill -0 "$sd_pid" 2>/dev/null; then
			en_rc=0
			wait "$sd_pid" || en_rc=$?
			sd_pid=
			echo "bench: streamd exited with status $en_rc" >&2
		fi
		tail -n 20 streamd.log >&2
		exit 1
	}
	en_s=$(kv ms ensure.out | awk '{ printf "%.1f", $1 / 1000 }')
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# 1. Relay.
relay_rows=
if has relay; then
	for n in $ns; do
		ids=$(seq 1 "$n")
		say "relay N=$n: streamd"
		start_streamd
		# shellcheck disable=SC2086
		ensure hls $ids
		pls=
		for i in $ids; do
			pls="$pls --playlist $media/hls/$i/index.m3u8"
		done
		# shellcheck disable=SC2086
		measure sd.out -s "$sock" $pls "$sd_pid"
		sd_cpu=$(kv cpu_s sd.out)
		sd_pss=$(kv pss_mib sd.out)
		sd_rss=$(kv rss_mib sd.out)
		sd_anon=$(kv anon_mib sd.out)
		[ "$(kv lost sd.out)" = 0 ] ||
		    say "relay N=$n: streamd exited in the window"
		sd_speed=$(kv speed sd.out)
		stop_streamd

		say "relay N=$n: $n ffmpeg -c copy"
		pls=
		files=
		for i in $ids; do
			mkdir -p "ff/$i"
			ffmpeg_bg -re -stream_loop -1 -i "$src" -c copy -f hls \
			    -hls_time 4 -hls_list_size 6 \
			    -hls_flags delete_segments "ff/$i/index.m3u8"
			pls="$pls --playlist ff/$i/index.m3u8"
			files="$files ff/$i/index.m3u8"
		done
		# shellcheck disable=SC2086
		wait_files 60 $files
		# shellcheck disable=SC2086
		measure ff.out $pls $ff_pids
		ff_cpu=$(kv cpu_s ff.out)
		ff_pss=$(kv pss_mib ff.out)
		ff_rss=$(kv rss_mib ff.out)
		ff_anon=$(kv anon_mib ff.out)
		ff_speed=$(kv speed ff.out)
		[ "$(kv lost ff.out)" = 0 ] ||
		    say "relay N=$n: $(kv lost ff.out) ffmpeg exited in the window"
		stop_ffmpeg
		relay_rows="$relay_rows$n $sd_cpu $ff_cpu $sd_pss $ff_pss $sd_rss $ff_rss $sd_speed $ff_speed $en_s $wf_s $sd_anon $ff_anon
"
	done
fi

# 2. ABR ladder.
x264='-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -keyint_min 50
    -sc_threshold 0'
aac='-c:a aac -b:a 128k'
hls='-f hls -hls_time 4 -hls_list_size 6 -hls_flags delete_segments'
abr_rows=
if has abr; then
	say "abr: streamd, one channel with two variants"
	start_streamd
	ensure master 1001
	measure sd.out -s "$sock" --playlist "$media/hls/1001/index.m3u8" \
	    "$sd_pid"
	abr_rows="streamd $(kv cpu_s sd.out) $(kv fps sd.out) $en_s
"
	stop_streamd

	say "abr: one ffmpeg, split=3"
	mkdir -p ff/720 ff/480 ff/360
	# shellcheck disable=SC2086
	ffmpeg_bg -progress ff/split.progress -re -stream_loop -1 -i "$src" \
	    -filter_complex \
	    '[0:v]split=3[a][b][c];[b]scale=854:480[b2];[c]scale=640:360[c2]' \
	    -map '[a]' -map 0:a $x264 -b:v 2500k $aac $hls ff/720/index.m3u8 \
	    -map '[b2]' -map 0:a $x264 -b:v 1200k $aac $hls ff/480/index.m3u8 \
	    -map '[c2]' -map 0:a $x264 -b:v 700k $aac $hls ff/360/index.m3u8
	wait_files 120 ff/720/index.m3u8 ff/480/index.m3u8 \
	    ff/360/index.m3u8
	# shellcheck disable=SC2086
	measure ff.out --progress ff/split.progress $ff_pids
	abr_rows="${abr_rows}split $(kv cpu_s ff.out) $(kv fps ff.out) $wf_s
"
	stop_ffmpeg

	say "abr: three ffmpeg, one per rendition"
	mkdir -p ff/720 ff/480 ff/360
	for r in 720:2500k: 480:1200k:854:480 360:700k:640:360; do
		h=${r%%:*}
		rest=${r#*:}
		rate=${rest%%:*}
		scale=${rest#*:}
		vf=
		[ -z "$scale" ] || vf="-vf scale=$scale"
		# shellcheck disable=SC2086
		ffmpeg_bg -progress "ff/$h.progress" -re -stream_loop -1 \
		    -i "$src" $vf $x264 -b:v "$rate" $aac $hls "ff/$h/index.m3u8"
	done
	wait_files 120 ff/720/index.m3u8 ff/480/index.m3u8 \
	    ff/360/index.m3u8
	# shellcheck disable=SC2086
	measure ff.out --progress ff/720.progress --progress ff/480.progress \
	    --progress ff/360.progress $ff_pids
	abr_rows="${abr_rows}three $(kv cpu_s ff.out) $(kv fps ff.out) $wf_s
"
	stop_ffmpeg
fi

# 3. Zap.
zap_rows=
if has zap; then
	say "zap: streamd, $runs cold starts each"
	start_streamd
	run_helper zap.out python3 "$bench/zap.py" cold -s "$sock" \
	    -m "$media" -o hls -n "$runs" 2001 ||
	    { echo "bench: zap.py failed" >&2; exit 1; }
	zap_rows="streamd_hls_2s $(kv p50 zap.out) $(kv p95 zap.out) $(kv min zap.out) $(kv max zap.out) $(kv failed zap.out)
"
	[ -z "$(kv error zap.out)" ] || say "zap hls: $(kv error zap.out)"
	i=2002
	for p in $parts; do
		run_helper zap.out python3 "$bench/zap.py" cold -s "$sock" \
		    -m "$media" -o ll-hls -n "$runs" "$i" ||
		    { echo "bench: zap.py failed" >&2; exit 1; }
		zap_rows="${zap_rows}streamd_ll-hls_${p}ms $(kv p50 zap.out) $(kv p95 zap.out) $(kv min zap.out) $(kv max zap.out) $(kv failed zap.out)
"
		[ -z "$(kv error zap.out)" ] ||
		    say "zap ll-hls $p: $(kv error zap.out)"
		i=$((i + 1))
	done
	stop_streamd
	say "zap: ffmpeg, $runs starts"
	mkdir -p ffzap
	run_helper zap.out python3 "$bench/zap.py" ffmpeg -n "$runs" \
	    --hls-time 2 -d ffzap "$src" ||
	    { echo "bench: zap.py failed" >&2; exit 1; }
	zap_rows="${zap_rows}ffmpeg_hls_2s $(kv p50 zap.out) $(kv p95 zap.out) $(kv min zap.out) $(kv max zap.out) $(kv failed zap.out)
"
	[ -z "$(kv error zap.out)" ] || say "zap ffmpeg: $(kv error zap.out)"
fi

# The report.
echo
echo "amps streamd benchmark: ${window} s windows after ${warmup} s of" \
    "warm-up; $(ffmpeg -version | awk 'NR == 1 { print $1, $3 }')"
echo "source: $(basename "$src"): 60 s 1280x720 25 fps H.264 (2 s GOP)" \
    "+ AAC, MPEG-TS, $src_rate Mbit/s, read with -re -stream_loop -1"
echo "build: $build ($(sed -n 's/^CFLAGS = //p' "$build/Makefile" | head -n 1))"
echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    "x $(nproc); load average at the start $load0, at the end" \
    "$(cut -d' ' -f1-3 /proc/loadavg); took $(( $(date +%s) - t_start )) s"

if [ -n "$relay_rows" ]; then
	echo
	echo "1. relay, copy to HLS (4 s segments, 6 listed): one streamd with" \
	    "N channels vs N ffmpeg -c copy"
	printf '%4s | %9s %9s %6s | %6s %6s | %7s %7s\n' \
	    "" "CPU s" "" "" speed "" "start s" ""
	printf '%4s | %9s %9s %6s | %6s %6s | %7s %7s\n' \
	    N streamd ffmpeg ratio sd ff sd ff
	printf '%s' "$relay_rows" | while read -r n sc fc _ _ _ _ ss fs ts tf _; do
		printf '%4s | %9.2f %9.2f %6s | %6.2f %6.2f | %7s %7s\n' \
		    "$n" "$sc" "$fc" "$(ratio "$sc" "$fc")" "$ss" "$fs" "$ts" \
		    "$tf"
	done
	echo "CPU s: utime+stime over the window (ffmpeg: the sum of the N" \
	    "processes); speed: seconds of media segmented"
	echo "per second per channel, from the playlists (1.00 = real time);" \
	    "start s: until every channel was playable"
	echo "(streamd: the slowest ensure; ffmpeg: every index.m3u8 there)"
	echo
	printf '%4s | %9s %9s %6s | %9s %9s %6s | %9s %9s %6s\n' \
	    "" "PSS MiB" "" "" "anon MiB" "" "" "RSS MiB" "" ""
	printf '%4s | %9s %9s %6s | %9s %9s %6s | %9s %9s %6s\n' \
	    N streamd ffmpeg ratio streamd ffmpeg ratio streamd ffmpeg ratio
	printf '%s' "$relay_rows" | while read -r n _ _ sp fp sr fr _ _ _ _ sa fa; do
		printf '%4s | %9.1f %9.1f %6s | %9.1f %9.1f %6s | %9.1f %9.1f %6s\n' \
		    "$n" "$sp" "$fp" "$(ratio "$sp" "$fp")" "$sa" "$fa" \
		    "$(ratio "$sa" "$fa")" "$sr" "$fr" "$(ratio "$sr" "$fr")"
	done
	echo "at the end of the window, summed over the processes: PSS (Pss of" \
	    "smaps_rollup: shared pages split between"
	echo "the processes that map them, other users' ffmpeg and streamd" \
	    "included, so it moves with what else runs);"
	echo "anon (Anonymous of smaps_rollup: private heap and stacks, the" \
	    "part that grows with each channel); RSS"
	echo "(VmRSS: shared pages counted in every process)"
	if [ "$(printf '%s' "$relay_rows" | wc -l)" -ge 2 ]; then
		printf '%s' "$relay_rows" | awk 'NR == 1 { n0 = $1; s0 = $4; f0 = $5 }
		    END { if ($1 > n0) printf "per extra channel: streamd +%.2f MiB" \
			" PSS, ffmpeg +%.2f MiB PSS (N=%d to N=%d)\n",
			($4 - s0) / ($1 - n0), ($5 - f0) / ($1 - n0), n0, $1 }'
	fi
fi

if [ -n "$abr_rows" ]; then
	echo
	echo "2. ABR ladder, libx264 veryfast 720p 2500k + 480p 1200k + 360p" \
	    "700k, AAC 128k each, HLS 4 s; one after the other"
	printf '%-30s %8s %8s %7s %12s %8s %8s %8s\n' "" "CPU s" fps speed \
	    "CPU s/med s" "vs split" "vs three" "start s"
	sp_cpu=$(printf '%s' "$abr_rows" | awk '$1 == "split" { print $2 }')
	sp_fps=$(printf '%s' "$abr_rows" | awk '$1 == "split" { print $3 }')
	th_cpu=$(printf '%s' "$abr_rows" | awk '$1 == "three" { print $2 }')
	th_fps=$(printf '%s' "$abr_rows" | awk '$1 == "three" { print $3 }')
	# CPU seconds per second of media: cpu / (fps * window / 25).
	per() { awk -v c="$1" -v f="$2" -v w="$window" \
	    'BEGIN { if (f > 0) printf "%.3f", c / (f * w / 25); else print "-" }'; }
	sp_per=$(per "${sp_cpu:-0}" "${sp_fps:-0}")
	th_per=$(per "${th_cpu:-0}" "${th_fps:-0}")
	printf '%s' "$abr_rows" | while read -r what cpu fps t; do
		case $what in
		streamd) label="streamd (1 channel, 2 variants)" ;;
		split) label="ffmpeg split=3 (1 process)" ;;
		three) label="ffmpeg x3 (3 processes)" ;;
		esac
		p=$(per "$cpu" "$fps")
		printf '%-30s %8.2f %8.2f %6.2fx %12s %8s %8s %8s\n' "$label" \
		    "$cpu" "$fps" "$(awk -v f="$fps" 'BEGIN { print f / 25 }')" \
		    "$p" "$(ratio "$p" "$sp_per")" "$(ratio "$p" "$th_per")" "$t"
	done
	echo "fps: frames read per second over the window (streamd: the mean" \
	    "of status's fps; ffmpeg: frame= of -progress;"
	echo "three processes: their mean); CPU s/med s: CPU seconds per" \
	    "second of media, CPU s / (fps x window / 25): a run"
	echo "short of real time uses every core and its raw CPU seconds say" \
	    "little, so the ratios use CPU s/med s"
fi

if [ -n "$zap_rows" ]; then
	echo
	echo "3. zap, cold channel, 2 s GOP, $runs runs each: streamd from" \
	    "sending ensure to its reply; ffmpeg from its start until"
	echo "   index.m3u8 exists (ms, percentiles by the nearest rank)"
	printf '%-24s %7s %7s %7s %7s %7s\n' "" p50 p95 min max failed
	printf '%s' "$zap_rows" | while read -r what p50 p95 mn mx failed; do
		printf '%-24s %7s %7s %7s %7s %7s\n' "$what" "$p50" "$p95" \
		    "$mn" "$mx" "$failed"
	done
fi

echo
echo "summary"
if [ -n "$relay_rows" ]; then
	printf '%s' "$relay_rows" | while read -r n sc fc sp fp _ _ _ _ _ _ sa fa; do
		r=$(ratio "$sc" "$fc")
		m=$(ratio "$sp" "$fp")
		printf '  relay N=%-3s CPU streamd/ffmpeg %5s (target <= 1.00: %s),' \
		    "$n" "$r" "$(verdict "$r" 1.00)"
		printf ' PSS %5s (target <= 0.25: %s; anon %s)\n' "$m" \
		    "$(verdict "$m" 0.25)" "$(ratio "$sa" "$fa")"
	done
fi
if [ -n "$abr_rows" ]; then
	sd_cpu=$(printf '%s' "$abr_rows" | awk '$1 == "streamd" { print $2 }')
	sd_fps=$(printf '%s' "$abr_rows" | awk '$1 == "streamd" { print $3 }')
	sd_per=$(per "${sd_cpu:-0}" "${sd_fps:-0}")
	r=$(ratio "$sd_per" "$sp_per")
	printf '  ABR CPU per media second streamd/split %s (target <= 1.05: %s),' \
	    "$r" "$(verdict "$r" 1.05)"
	printf ' streamd/three %s; speed streamd %.2fx, split %.2fx, three %.2fx\n' \
	    "$(ratio "$sd_per" "$th_per")" \
	    "$(awk -v f="$sd_fps" 'BEGIN { print f / 25 }')" \
	    "$(awk -v f="$sp_fps" 'BEGIN { print f / 25 }')" \
	    "$(awk -v f="$th_fps" 'BEGIN { print f / 25 }')"
fi
if [ -n "$zap_rows" ]; then
	printf '%s' "$zap_rows" | while read -r what p50 p95 _; do
		case $what in
		streamd_ll-hls*)
			printf '  zap %-20s p50 %5s ms, p95 %5s ms (target <= 1000 ms at p95: %s)\n' \
			    "$what" "$p50" "$p95" "$(verdict "$p95" 1000)" ;;
		*)
			printf '  zap %-20s p50 %5s ms, p95 %5s ms\n' "$what" \
			    "$p50" "$p95" ;;
		esac
	done
fi
