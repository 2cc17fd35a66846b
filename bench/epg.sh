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
#   -r RUNS         rounds (default 5): each times xmllint, then amps
#                   right after it, so that both see the same load on a
#                   shared machine; the ratio reported is the median of
#                   the rounds' ratios
#   -k              keep the scratch folder (its path is printed)
#
# What it does: generates the guide with tests/blackbox/xmltvgen.py
# (1,000 x 100 is about 78 MB) and an amps.conf with the matching
# channels in a scratch folder under /tmp, runs amps init, then times
# xmllint --stream --noout, the first amps epg-refresh (an empty guide)
# and later ones (each replaces the 100,000 rows of the one before), and
# prints wall-clock seconds (the median and the best of the rounds), the
# ratio to xmllint, and the peak RSS of each (/usr/bin/time -f %M when it
# is there, else VmHWM from /proc; the largest of the rounds).
# The targets of issue 6: at most 2.0x xmllint's time, peak RSS at most
# 32 MiB.
#
# Needs python3, xmllint and bc.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=
channels=1000
programmes=100
runs=5
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

# median LIST: the median of the numbers in LIST, split on blanks (the
# mean of the two in the middle for an even count).
median()
{
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR % 2) print v[(NR + 1) / 2];
	    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# best LIST: the smallest number in LIST.
best()
{
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -n | sed 1q
}

size=$(wc -c <guide.xml)
echo "guide: $channels channels x $programmes programmes," \
    "$((size / 1000000)) MB; build $build; $runs rounds"
# The first refresh stores into an empty guide: one round.
measure xmllint --stream --noout guide.xml
first_ref=$secs
measure "$build/cli/amps" -c amps.conf epg-refresh
first_secs=$secs first_kib=$kib
first_out=$(cat out.txt)
first_ratio=$(echo "scale=2; $first_secs / $first_ref" | bc)

# Later refreshes replace the guide: $runs rounds.
refs='' amps='' ratios='' ref_kib=0 amps_kib=0
i=0
while [ "$i" -lt "$runs" ]; do
	measure xmllint --stream --noout guide.xml
	ref=$secs
	[ "$kib" -gt "$ref_kib" ] && ref_kib=$kib
	measure "$build/cli/amps" -c amps.conf epg-refresh
	[ "$kib" -gt "$amps_kib" ] && amps_kib=$kib
	refs="$refs $ref" amps="$amps $secs"
	ratios="$ratios $(echo "scale=3; $secs / $ref" | bc)"
	i=$((i + 1))
done
printf '%-34s %7s    %7s  %9s\n' "" median best "peak RSS"
printf '%-34s %7.2f s  %7.2f s  %6d KiB\n' "xmllint --stream --noout" \
    "$(median "$refs")" "$(best "$refs")" "$ref_kib"
printf '%-34s %7.2f s  %7.2f s  %6d KiB\n' "amps epg-refresh (replacing)" \
    "$(median "$amps")" "$(best "$amps")" "$amps_kib"
printf '%-34s %7.2f s  %9s  %6d KiB\n' "amps epg-refresh (empty guide)" \
    "$first_secs" "" "$first_kib"
echo "  $first_out"
echo "  $(cat out.txt)"
echo "ratios (replacing):$ratios"
echo "ratio to xmllint: $(median "$ratios") (replacing, median of $runs)," \
    "$first_ratio (empty guide); target <= 2.0"
echo "peak RSS: $amps_kib KiB (replacing), $first_kib KiB (empty guide);" \
    "target <= 32768 KiB"
