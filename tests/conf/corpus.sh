# The malformed-config corpus: every file under tests/conf/bad/ must make
# both `amps check-config` and `amps init` fail with exit status 2, print
# exactly one line on stderr naming the file, the line and the key, print
# nothing on stdout, and leave an existing database (and everything else
# in its folder) byte-identical.
#
# Each bad file starts with a line
#	# expect: LINE KEY [WORD...]
# LINE is the 1-based line the error must name, KEY the key path
# ("streams[0].regions_allowed[1]") or "-" for an error that names no key
# (libconfig syntax errors, includes); each WORD must appear in the
# message (used for "did you mean" hints).

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

CORPUS=$AMPS_TEST_SRCDIR/conf
GOOD=$CORPUS/good/minimal.conf
MIN_FILES=24

# snapshot DIR: every path under DIR but bad.conf, with the SHA-256 of
# each file, one per line, sorted.
snapshot()
{
	(cd "$1" && find . ! -name bad.conf -print | LC_ALL=C sort |
	    while IFS= read -r p; do
		if [ -f "$p" ]; then
			printf '%s %s\n' "$p" "$(sha256 "$p")"
		else
			printf '%s\n' "$p"
		fi
	    done)
}

# check_run DIR BAD LINE KEY WORDS COMMAND: runs one command on the bad
# file inside DIR; sets WHY and returns 1 if its outcome is wrong.
check_run()
{
	dir=$1 bad=$2 line=$3 key=$4 words=$5 cmd=$6
	rc=0
	(cd "$dir" && exec timeout 120 "$AMPS" -c "$bad" "$cmd") \
	    >"$dir/.out" 2>"$dir/.err" || rc=$?
	out=$(cat "$dir/.out")
	err=$(cat "$dir/.err")
	nlines=$(awk 'END { print NR }' "$dir/.err")
	rm -f "$dir/.out" "$dir/.err"

	if [ "$rc" -ne 2 ]; then
		WHY="$cmd: exit status $rc, expected 2; stderr: [$err]"
		return 1
	fi
	if [ -n "$out" ]; then
		WHY="$cmd: printed on stdout: [$out]"
		return 1
	fi
	if [ "$nlines" -ne 1 ]; then
		WHY="$cmd: $nlines lines on stderr, expected 1: [$err]"
		return 1
	fi

	# The file may be named as given or as its canonical path.
	real=$(readlink -f "$bad")
	if [ "$key" = - ]; then
		tail1="$line: "
	else
		tail1="$line: $key: "
	fi
	msg=
	for name in "$bad" "$real"; do
		case $err in
		"$name:$tail1"?*)
			msg=${err#"$name:$tail1"}
			break
			;;
		esac
	done
	if [ -z "$msg" ]; then
		WHY="$cmd: expected [$bad:$tail1<message>], got [$err]"
		return 1
	fi
	for w in $words; do
		case $msg in
		*"$w"*)	;;
		*)
			WHY="$cmd: message lacks [$w]: [$err]"
			return 1
			;;
		esac
	done
	return 0
}

# check_file BAD: the whole check of one corpus file; sets WHY and
# returns 1 on failure.
check_file()
{
	src=$1
	name=$(basename "$src" .conf)
	dir=$TMPDIR_TEST/$name
	mkdir -p "$dir"

	# shellcheck disable=SC2034
	read -r hash tag line key words <"$src" || true
	if [ "$hash $tag" != "# expect:" ] || [ -z "$key" ]; then
		WHY="first line is not '# expect: LINE KEY'"
		return 1
	fi
	case $line in
	''|*[!0-9]*)
		WHY="bad LINE in the expect line: [$line]"
		return 1
		;;
	esac

	copy_file "$GOOD" "$dir/good.conf"
	rc=0
	(cd "$dir" && exec timeout 120 "$AMPS" -c "$dir/good.conf" init) \
	    >"$dir/.setup" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || [ ! -f "$dir/corpus.db" ]; then
		WHY="setup: init of minimal.conf failed ($rc): $(cat "$dir/.setup")"
		return 1
	fi
	rm -f "$dir/.setup"
	before=$(snapshot "$dir")

	copy_file "$src" "$dir/bad.conf"
	for cmd in check-config init; do
		check_run "$dir" "$dir/bad.conf" "$line" "$key" "$words" \
		    "$cmd" || return 1
		after=$(snapshot "$dir")
		if [ "$before" != "$after" ]; then
			WHY="$cmd: the folder changed:
$(printf '%s\n' "$before" >"$dir/.before"
  printf '%s\n' "$after" >"$dir/.after"
  diff "$dir/.before" "$dir/.after")"
			return 1
		fi
	done
	rm -rf "$dir"
	return 0
}

[ -f "$GOOD" ] || fail "$GOOD is missing"

# The good file itself must load, or every case below means nothing.
mkdir -p "$TMPDIR_TEST/good"
copy_file "$GOOD" "$TMPDIR_TEST/good/good.conf"
(cd "$TMPDIR_TEST/good" && "$AMPS" -c "$TMPDIR_TEST/good/good.conf" \
    check-config) || fail "minimal.conf does not pass check-config"

passed=0
failed=0
count=0
for f in "$CORPUS"/bad/*.conf; do
	[ -f "$f" ] || continue
	count=$((count + 1))
	WHY=
	if check_file "$f"; then
		echo "ok   $(basename "$f")"
		passed=$((passed + 1))
	else
		echo "FAIL $(basename "$f"): $WHY"
		failed=$((failed + 1))
	fi
done

if [ "$count" -lt "$MIN_FILES" ]; then
	echo "FAIL: only $count files in $CORPUS/bad, expected at least $MIN_FILES"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
