# Shared by the benchmarks (sourced, not run).

# bench_build BUILD PROG...: sets build to BUILD made absolute, or, when
# BUILD is empty, to the first of build/release, build/debug and . of the
# tree that has the first PROG built; then every PROG (a path in the
# build, "cli/amps") must be there.  Exits 2 with a message otherwise.
bench_build()
{
	build=$1
	shift
	if [ -z "$build" ]; then
		for b in "$top/build/release" "$top/build/debug" .; do
			if [ -x "$b/$1" ]; then
				build=$b
				break
			fi
		done
	fi
	[ -n "$build" ] || { echo "bench: no build found; give BUILD" >&2; exit 2; }
	build=$(cd "$build" && pwd)
	for f in "$@"; do
		[ -x "$build/$f" ] ||
		    { echo "bench: $build/$f is not built" >&2; exit 2; }
	done
}

say() { echo "bench: $*" >&2; }

# has PHASE: PHASE is among the words of $phases.
has() { case " $phases " in *" $1 "*) return 0 ;; esac; return 1; }

# run_helper OUTFILE COMMAND...: runs a helper in the background (so that
# a signal ends the benchmark at once) and waits for it; its pid is in
# helper_pid meanwhile, for the caller's EXIT trap.  With BENCH_HELPER_LOG
# set, its standard error goes to the end of that file.
run_helper()
{
	rh_out=$1
	shift
	if [ -n "${BENCH_HELPER_LOG:-}" ]; then
		"$@" >"$rh_out" 2>>"$BENCH_HELPER_LOG" &
	else
		"$@" >"$rh_out" &
	fi
	helper_pid=$!
	rh_rc=0
	wait "$helper_pid" || rh_rc=$?
	helper_pid=
	return "$rh_rc"
}

# kv KEY FILE: the value of KEY=VALUE in FILE.
kv() { sed -n "s/^$1=//p" "$2" | tail -n 1; }

# ratio A B: A / B with two decimals ("-" when B is 0).
ratio()
{
	awk -v a="$1" -v b="$2" \
	    'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
}
