#!/bin/sh
# Benchmark of guide ingestion (G3): amps epg-refresh of a generated XMLTV
# guide, side by side with xmllint --stream --noout on the same file, in
# the same run.  Not a test: it prints numbers.
#
# usage: bench/epg.sh [-b BUILD] [-n CHANNELS] [-p PROGRAMMES] [-r RUNS]
#                     [-k]
#
#   -b BUILD        the build folder holding cli/amps (default:
#                   build/release, else build/debug, under the source
#                   tree); use an optimised build (configure without
#                   --enable-debug) for numbers worth comparing
#   -n CHANNELS     channels (default 1000)
#   -p PROGRAMMES   programmes per channel (default 100)
#   -r RUNS         runs of each command; the best time is kept
#                   (default 3)
#   -k              keep the scratch folder (its path is printed)
#
# What it does: generates the guide with tests/blackbox/xmltvgen.py
# (1,000 x 100 is about 78 MB) and an amps.conf with the matching
# channels in a scratch folder under /tmp, runs amps init, then times
# xmllint --stream --noout, the first amps epg-refresh (an empty guide)
# and later ones (each replaces the 100,000 rows of the one before), and
# prints wall-clock seconds, the ratio to xmllint, and the peak RSS of
# each (/usr/bin/time -f %M when it is there, else VmHWM from /proc).
# The targets of issue 6: at most 2.0x xmllint's time, peak RSS at most
# 32 MiB.
#
# Needs python3, xmllint and bc.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=
channels=1000
programmes=100
runs=3
keep=0

while getopts b:n:p:r:k opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) channels=$OPTARG ;;
	p) programmes=$OPTARG ;;
	r) runs=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

. "$top/bench/lib.sh"
bench_build "$build" cli/amps
for prog in python3 xmllint bc; do
	command -v "$prog" >/dev/null 2>&1 ||
	    { echo "bench: $prog is not installed" >&2; exit 2; }
done

dir=$(mktemp -d /tmp/amps-bench-epg.XXXXXX)
if [ "$keep" -eq 1 ]; then
	echo "bench: scratch folder $dir"
else
	trap 'rm -rf "$dir"' EXIT
fi
trap 'exit 1' HUP INT TERM
cd "$dir"

gen=$top/tests/blackbox/xmltvgen.py
python3 "$gen" guide --channels "$channels" --programmes "$programmes" \
    -o guide.xml
{
	printf 'server = { database = "amps.db"; media_root = "media"; };\n'
	printf 'streams = (\n'
	python3 "$gen" streams --channels "$channels"
	printf ');\n'
	printf 'epg_sources = ( { name = "bench"; path = "guide.xml"; } );\n'
} >amps.conf
"$build/cli/amps" -c amps.conf init >/dev/null

# measure CMD...: runs CMD with its output in out.txt; sets secs and kib
# (peak RSS).
if [ -x /usr/bin/time ]; then
	measure()
	{
		/usr/bin/time -f '%e %M' -o time.txt "$@" >out.txt 2>&1 ||
		    { cat out.txt >&2; exit 1; }
		read -r secs kib <time.txt
	}
else
	# VmHWM of the process, read as it ends: a wrapper shell execs the
	# command in the background and samples /proc until it is gone.
	measure()
	{
		t0=$(date +%s.%N)
		"$@" >out.txt 2>&1 &
		pid=$!
		kib=0
		while kill -0 "$pid" 2>/dev/null; do
			v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' \
			    "/proc/$pid/status" 2>/dev/null || true)
			[ -n "$v" ] && [ "$v" -gt "$kib" ] && kib=$v
			sleep 0.01
		done
		wait "$pid" || { cat out.txt >&2; exit 1; }
		secs=$(echo "$(date +%s.%N) - $t0" | bc)
	}
fi

# best NAME CMD...: the best of $runs runs; sets best_secs, best_kib
# (the largest peak).
best()
{
	name=$1
	shift
	best_secs=
	best_kib=0
	i=0
	while [ "$i" -lt "$runs" ]; do
		measure "$@"
		if [ -z "$best_secs" ] ||
		    [ "$(echo "$secs < $best_secs" | bc)" -eq 1 ]; then
			best_secs=$secs
		fi
		[ "$kib" -gt "$best_kib" ] && best_kib=$kib
		i=$((i + 1))
	done
	printf '%-34s %7.2f s  %6d KiB\n' "$name" "$best_secs" "$best_kib"
}

size=$(wc -c <guide.xml)
echo "guide: $channels channels x $programmes programmes," \
    "$((size / 1000000)) MB; build $build"
best "xmllint --stream --noout" xmllint --stream --noout guide.xml
ref=$best_secs
# The first refresh stores into an empty guide: measured once.
measure "$build/cli/amps" -c amps.conf epg-refresh
first_secs=$secs first_kib=$kib
printf '%-34s %7.2f s  %6d KiB   %s\n' "amps epg-refresh (empty guide)" \
    "$first_secs" "$first_kib" "$(cat out.txt)"
best "amps epg-refresh (replacing)" "$build/cli/amps" -c amps.conf \
    epg-refresh
echo "  $(cat out.txt)"
ratio=$(echo "scale=2; $best_secs / $ref" | bc)
first_ratio=$(echo "scale=2; $first_secs / $ref" | bc)
echo "ratio to xmllint: $ratio (replacing), $first_ratio (empty guide);" \
    "target <= 2.0"
echo "peak RSS: $best_kib KiB (replacing), $first_kib KiB (empty guide);" \
    "target <= 32768 KiB"
