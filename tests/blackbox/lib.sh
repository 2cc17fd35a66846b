# Shared helpers of the shell tests; sourced, not run.  make check exports
# top_srcdir, top_builddir (absolute) and AMPS_TEST_SRCDIR.  A test exits 0
# on success, 1 on failure, 77 when it cannot run here (never to hide a
# failure).

: "${top_srcdir:?run through make check (top_srcdir is not set)}"
: "${top_builddir:?run through make check (top_builddir is not set)}"
: "${AMPS_TEST_SRCDIR:=$top_srcdir/tests}"

AMPS=$top_builddir/cli/amps
TEST_NAME=$(basename "$0" .sh)
# The amps under test must not pick up a config from the environment.
unset AMPS_CONF

# A fresh scratch folder per run, kept when the test fails so that what
# went wrong can be looked at, removed when it passes.
mkdir -p "$top_builddir/tests/tmp"
TMPDIR_TEST=$(mktemp -d "$top_builddir/tests/tmp/$TEST_NAME.XXXXXX")

cleanup()
{
	rc=$?
	if [ "$rc" -eq 0 ]; then
		rm -rf "$TMPDIR_TEST"
	else
		echo "$TEST_NAME: files kept in $TMPDIR_TEST" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# fail MESSAGE...: reports and ends the test as failed.
fail()
{
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# skip MESSAGE...: the test cannot run on this machine.
skip()
{
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

# note MESSAGE...: progress, into the test's .log.
note()
{
	echo "--- $*"
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq()
{
	if [ "$2" != "$3" ]; then
		fail "$1: expected [$2], got [$3]"
	fi
}

# assert_match WHAT PATTERN TEXT: TEXT contains a line matching the
# extended regular expression PATTERN.
assert_match()
{
	if ! printf '%s\n' "$3" | grep -Eq -- "$2"; then
		fail "$1: no line matches /$2/ in: $3"
	fi
}

# assert_no_match WHAT PATTERN TEXT
assert_no_match()
{
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		fail "$1: unexpected line matching /$2/ in: $3"
	fi
}

# sha256 FILE: prints the file's SHA-256 in hex.
sha256()
{
	sha256sum "$1" | cut -d' ' -f1
}

# run_amps ARGS...: runs amps with OUT, ERR (file contents) and RC set.
# Never fails by itself, so a test can look at every outcome.
run_amps()
{
	RC=0
	"$AMPS" "$@" >"$TMPDIR_TEST/.out" 2>"$TMPDIR_TEST/.err" || RC=$?
	OUT=$(cat "$TMPDIR_TEST/.out")
	ERR=$(cat "$TMPDIR_TEST/.err")
	rm -f "$TMPDIR_TEST/.out" "$TMPDIR_TEST/.err"
}

# expect_rc WHAT STATUS: checks the status of the last run_amps.
expect_rc()
{
	if [ "$RC" -ne "$2" ]; then
		fail "$1: exit status $RC, expected $2; stdout: [$OUT] stderr: [$ERR]"
	fi
}

# copy_file SRC DST: a writable copy (sources are read-only in distcheck).
copy_file()
{
	cp "$1" "$2" && chmod u+w "$2"
}

if [ ! -x "$AMPS" ]; then
	fail "$AMPS is not built"
fi
