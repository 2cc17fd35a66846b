#!/bin/sh
# Benchmark of the responder behind lighttpd: playlist, guide and stream
# list answered by amps.fcgi, side by side with the same bytes served as
# static files by the same lighttpd.  Not a test: it prints numbers.
#
# usage: bench/responder.sh [-b BUILD] [-n CHANNELS] [-p PROGRAMMES]
#                           [-d SECONDS] [-t THREADS] [-c CONNECTIONS] [-k]
#
#   -b BUILD        the build folder holding cli/amps, cgi/amps.fcgi and
#                   streamd/streamd (default: build/release, else
#                   build/debug, under the source tree); use an optimised
#                   build (configure without --enable-debug) for numbers
#                   worth comparing
#   -n CHANNELS     channels in the catalogue (default 1000)
#   -p PROGRAMMES   programmes per channel over the coming day (default 24)
#   -d SECONDS      length of each wrk run (default 10)
#   -t THREADS      wrk threads (default 2)
#   -c CONNECTIONS  wrk connections (default 16)
#   -k              keep the scratch folder (its path is printed)
#
# What it does: writes an amps.conf with that catalogue (auth off) into a
# scratch folder under /tmp, starts "amps serve" on a free loopback port
# (lighttpd, amps.fcgi, streamd), fetches /playlist.m3u, /epg.xml and
# /api/streams once each (the first answer's time is the cold cost: the
# responder then caches the answer until the catalogue changes), saves
# each body under media_root/hls/1/bench/ so that lighttpd serves it as a
# static file, runs wrk on the dynamic URL and on the static copy, and
# prints requests/s of each, their ratio, and amps.fcgi's memory (VmHWM,
# the peak, after each row and at the end, and VmRSS, from /proc).  The targets of issue
# 3: playlist and guide at least 0.5x the static file, RSS at most 16 MiB.
#
# Needs wrk, curl and lighttpd (tools/install-deps installs them).

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=
channels=1000
programmes=24
duration=10
threads=2
conns=16
keep=0
while getopts b:n:p:d:t:c:k opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) channels=$OPTARG ;;
	p) programmes=$OPTARG ;;
	d) duration=$OPTARG ;;
	t) threads=$OPTARG ;;
	c) conns=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_build "$build" cli/amps cgi/amps.fcgi streamd/streamd
amps=$build/cli/amps
for prog in wrk curl; do
	command -v "$prog" >/dev/null 2>&1 ||
	    { echo "bench: $prog is missing (tools/install-deps)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/amps-bench.XXXXXX)
serve_pid=
finish()
{
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid"
		wait "$serve_pid" || true
	fi
	if [ "$keep" -eq 1 ]; then
		echo "bench: files kept in $work"
	else
		rm -rf "$work"
	fi
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

if command -v python3 >/dev/null 2>&1; then
	port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
else
	port=$(( 30000 + $$ % 20000 ))
fi
base=http://127.0.0.1:$port

# The catalogue: CHANNELS channels, each with PROGRAMMES programmes back
# to back from the current hour.
now=$(date -u +%s)
hour=$(( now - now % 3600 ))
awk -v n="$channels" -v p="$programmes" -v t0="$hour" -v port="$port" '
function iso(t) { return strftime("%Y-%m-%dT%H:%M:%SZ", t, 1) }
BEGIN {
	printf "server = {\n\tlisten = \"127.0.0.1:%d\";\n", port
	printf "\tdatabase = \"var/amps.db\";\n\tmedia_root = \"var/media\";\n"
	printf "\tcontrol_socket = \"var/streamd.sock\";\n\tlog_level = \"warn\";\n};\n"
	printf "streams = (\n"
	for (i = 1; i <= n; i++) {
		printf "\t{\n\t\tid = %d;\n\t\tname = \"Channel %d\";\n", i, i
		printf "\t\tsource = \"http://example.com/live/%d.ts\";\n", i
		printf "\t\tffmpeg_profile = \"copy\";\n"
		printf "\t\tepg_id = \"ch%d.example.com\";\n", i
		printf "\t\tgroup = \"Group %d\";\n\t\tchannel_number = %d;\n", i % 20, i
		printf "\t\tlogo = \"http://example.com/logo/%d.png\";\n", i
		printf "\t\tnext_programs = (\n"
		for (j = 0; j < p; j++) {
			s = t0 + j * 86400 / p
			printf "\t\t\t{ title = \"Programme %d of channel %d\"; ", j + 1, i
			printf "start = \"%s\"; end = \"%s\"; ", iso(s), iso(s + 86400 / p)
			printf "description = \"What happens in programme %d, in a sentence or two of text.\"; }%s\n", j + 1, j < p - 1 ? "," : ""
		}
		printf "\t\t);\n\t}%s\n", i < n ? "," : ""
	}
	printf ");\n"
}' >"$work/amps.conf"

cd "$work"
AMPS_DATADIR=$top
export AMPS_DATADIR
"$amps" -c amps.conf serve >serve.out 2>serve.err &
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
lighttpd_pid=$(pgrep -P "$serve_pid" -x lighttpd)
fcgi_pid=$(pgrep -P "$lighttpd_pid" -x amps.fcgi || true)
# Under channel 1's HLS folder: every file under /hls/ passes the
# authorizer, which wants an existing channel (auth is off here).
static=var/media/hls/1/bench
mkdir -p "$static"

# mem KEY: VmHWM or VmRSS of amps.fcgi, in MiB.
mem()
{
	awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' \
	    "/proc/$fcgi_pid/status" 2>/dev/null || echo "?"
}

# rps URL: wrk's requests/s.
rps()
{
	wrk -t"$threads" -c"$conns" -d"${duration}s" "$1" >wrk.out 2>&1 ||
	    { cat wrk.out >&2; exit 1; }
	if grep -q 'Non-2xx or 3xx responses' wrk.out; then
		echo "bench: $1 answered errors:" >&2
		cat wrk.out >&2
		exit 1
	fi
	awk '/^Requests\/sec:/ { print $2 }' wrk.out
}

rows=
for spec in /playlist.m3u:playlist.m3u /epg.xml:epg.xml \
    /api/streams:streams.json; do
	path=${spec%%:*}
	file=${spec#*:}
	cold=$(curl -sS -o "$static/$file" -w '%{http_code} %{time_total}' \
	    "$base$path")
	[ "${cold%% *}" = 200 ] ||
	    { echo "bench: $path answered HTTP ${cold%% *}" >&2; exit 1; }
	cold_ms=$(echo "${cold#* }" | awk '{ printf "%.1f", $1 * 1000 }')
	bytes=$(wc -c <"$static/$file" | tr -d ' ')
	dyn=$(rps "$base$path")
	sta=$(rps "$base/hls/1/bench/$file")
	rows="$rows$path $bytes $cold_ms $dyn $sta $(mem VmHWM)
"
done

hwm=$(mem VmHWM)
rss=$(mem VmRSS)

echo
echo "amps responder benchmark: $channels channels x $programmes programmes;" \
    "wrk -t$threads -c$conns -d${duration}s; $(lighttpd -v 2>/dev/null | cut -d' ' -f1)"
echo "build: $build ($(sed -n 's/^CFLAGS = //p' "$build/Makefile" | head -n 1))"
echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
echo
printf '%-14s %10s %9s %12s %12s %7s  %-8s %s\n' \
    URL bytes "cold ms" "dynamic r/s" "static r/s" ratio target "HWM MiB"
printf '%s' "$rows" | while read -r path bytes cold dyn sta hwm_row; do
	case $path in
	/api/streams) target="-" ;;
	*) target=">= 0.50" ;;
	esac
	printf '%-14s %10s %9s %12.0f %12.0f %7.2f  %-8s %s\n' "$path" \
	    "$bytes" "$cold" "$dyn" "$sta" \
	    "$(awk -v a="$dyn" -v b="$sta" 'BEGIN { printf("%.4f", (b > 0) ? a / b : 0) }')" \
	    "$target" "$hwm_row"
done
echo "(HWM MiB: amps.fcgi's peak resident memory after that row's runs)"
echo
echo "amps.fcgi (pid $fcgi_pid) memory after the runs: VmHWM $hwm MiB," \
    "VmRSS $rss MiB (target <= 16 MiB)"
