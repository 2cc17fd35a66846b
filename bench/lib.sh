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
