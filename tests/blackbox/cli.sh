# Black-box test of the amps CLI on conf/amps.conf.example: check-config,
# init (and the merge rule), list, save (and the round trip), key, and the
# global options and exit statuses.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"

command -v sqlite3 >/dev/null 2>&1 ||
    skip "the sqlite3 program is not installed (tools/install-deps installs it)"

EXAMPLE=$top_srcdir/conf/amps.conf.example
T=$TMPDIR_TEST
CONF=$T/amps.conf
[ -s "$EXAMPLE" ] || fail "$EXAMPLE is missing or empty"
copy_file "$EXAMPLE" "$CONF"

# The stream ids of a config file, in file order, one per line:
# "S <id>" for streams, "C <id>" for scheduled_streams.  A small libconfig
# reader: comments and strings are dropped, then every "id = N" directly
# inside an element of the two lists (depth 2) is printed.
config_ids()
{
	awk '
	{
		line = $0; out = ""; n = length(line); i = 1
		while (i <= n) {
			c = substr(line, i, 1); two = substr(line, i, 2)
			if (incomment) {
				if (two == "*/") { incomment = 0; i += 2 }
				else i++
				continue
			}
			if (instr) {
				if (c == "\\") { i += 2; continue }
				if (c == "\"") instr = 0
				i++
				continue
			}
			if (c == "\"") { instr = 1; out = out " \"\" "; i++; continue }
			if (c == "#" || two == "//") break
			if (two == "/*") { incomment = 1; i += 2; continue }
			if (index("(){}[]=:;,", c)) out = out " " c " "
			else out = out c
			i++
		}
		instr = 0
		nt = split(out, w, /[ \t]+/)
		for (j = 1; j <= nt; j++)
			if (w[j] != "") tok[ntok++] = w[j]
	}
	END {
		depth = 0; top = ""
		for (k = 0; k < ntok; k++) {
			t = tok[k]
			if (t == "(" || t == "{" || t == "[") { depth++; continue }
			if (t == ")" || t == "}" || t == "]") { depth--; continue }
			if (tok[k + 1] != "=" && tok[k + 1] != ":") continue
			if (depth == 0) top = t
			else if (depth == 2 && t == "id" && tok[k + 2] ~ /^-?[0-9]+$/) {
				if (top == "streams") print "S " tok[k + 2]
				else if (top == "scheduled_streams") print "C " tok[k + 2]
			}
		}
	}' "$1"
}

# The first database = "..." of the server block.
DBREL=$(sed -n 's/^[[:space:]]*database[[:space:]]*[=:][[:space:]]*"\([^"]*\)".*/\1/p' \
    "$CONF" | head -n 1)
case $DBREL in
'')	fail "no server.database in $EXAMPLE" ;;
/*)	fail "server.database in $EXAMPLE is absolute ($DBREL); the test needs it relative" ;;
esac
DB=$T/$DBREL

IDS=$(config_ids "$CONF")
NSTATIC=$(printf '%s\n' "$IDS" | grep -c '^S ' || true)
NSCHED=$(printf '%s\n' "$IDS" | grep -c '^C ' || true)
WANT_IDS=$(printf '%s\n' "$IDS" | cut -d' ' -f2)
[ "$NSTATIC" -gt 0 ] || fail "found no stream ids in $EXAMPLE"
note "example: $NSTATIC streams, $NSCHED scheduled streams, database $DBREL"

# Key name for the key tests: one the example does not define.
KEY=ops
if grep -Eq "name[[:space:]]*=[[:space:]]*\"$KEY\"" "$CONF"; then
	KEY=blackbox-ops
fi

# summary_field LINE WORD: the number before WORD in an init summary.
summary_field()
{
	printf '%s\n' "$1" | sed -n "s/.* \\([0-9][0-9]*\\) $2.*/\\1/p"
}
generation()
{
	printf '%s\n' "$1" | sed -n 's/.*(generation \([0-9][0-9]*\)).*/\1/p'
}
# "amps: DATABASE: N added, ..." (init's one summary line).
SUMMARY_RE='^amps: .+: [0-9]+ added, [0-9]+ updated, [0-9]+ removed, [0-9]+ kept, [0-9]+ unchanged \(generation [0-9]+\)$'

# key_line NAME: the "NAME ROLE ORIGIN" line of amps key list, if any.
key_line()
{
	run_amps -c "$CONF" key list
	expect_rc "key list" 0
	printf '%s\n' "$OUT" | awk -v n="$1" '$1 == n'
}

dump()
{
	sqlite3 "$1" .dump | grep -v 'config\.file' | grep -v 'INSERT INTO generation' |
	    grep -v 'INSERT INTO identity'
}

note "global options"
run_amps --version
expect_rc "--version" 0
assert_eq "--version" "amps 0.1.0" "$(printf '%s\n' "$OUT" | head -n 1)"

run_amps --help
expect_rc "--help" 0
assert_match "--help lists the commands" 'check-config' "$OUT"
assert_match "--help lists the commands" 'init' "$OUT"

run_amps -c "$CONF" no-such-command
expect_rc "unknown command" 2
[ -n "$ERR" ] || fail "unknown command: nothing on stderr"

run_amps -c "$T/missing.conf" list
expect_rc "missing config (list)" 2
assert_match "missing config names the file" 'missing\.conf' "$ERR"
run_amps -c "$T/missing.conf" check-config
expect_rc "missing config (check-config)" 2
assert_match "missing config names the file" 'missing\.conf' "$ERR"
run_amps -c "$T/missing.conf" init
expect_rc "missing config (init)" 2

note "check-config"
run_amps -c "$CONF" check-config
expect_rc "check-config" 0
[ -z "$ERR" ] || fail "check-config of the example wrote on stderr: $ERR"
case $OUT in
"$CONF: ok: "*|"$(readlink -f "$CONF"): ok: "*) ;;
*)	fail "check-config: expected [$CONF: ok: ...], got [$OUT]" ;;
esac
assert_match "check-config counts" \
    ": ok: $NSTATIC streams, $NSCHED scheduled streams, [0-9]+ profiles, [0-9]+ EPG sources, [0-9]+ webhooks$" \
    "$OUT"
COUNTS=${OUT#*: ok: }
[ ! -e "$DB" ] || fail "check-config created $DB"

export AMPS_CONF="$CONF"
run_amps check-config
unset AMPS_CONF
expect_rc "check-config through \$AMPS_CONF" 0
assert_eq "check-config through \$AMPS_CONF" "$COUNTS" "${OUT#*: ok: }"

note "init"
run_amps -c "$CONF" init
expect_rc "init" 0
[ -f "$DB" ] || fail "init did not create $DB"
assert_match "init summary" "$SUMMARY_RE" "$OUT"
case $OUT in
"amps: $DB: "*|"amps: $(readlink -f "$DB"): "*) ;;
*)	fail "init summary does not name $DB: $OUT" ;;
esac
assert_eq "first init: updated" 0 "$(summary_field "$OUT" updated)"
assert_eq "first init: removed" 0 "$(summary_field "$OUT" removed)"
ADDED=$(summary_field "$OUT" added)
[ "$ADDED" -ge $((NSTATIC + NSCHED)) ] ||
    fail "first init added $ADDED rows, fewer than the $((NSTATIC + NSCHED)) channels"
GEN1=$(generation "$OUT")

note "list"
run_amps -c "$CONF" list
expect_rc "list" 0
assert_eq "list header" "$(printf 'ID\tNAME\tGROUP\tPROFILE\tSOURCE')" \
    "$(printf '%s\n' "$OUT" | head -n 1)"
BAD=$(printf '%s\n' "$OUT" | awk -F '\t' 'NF != 5')
[ -z "$BAD" ] || fail "list: lines without 5 tab-separated columns: $BAD"
assert_eq "list: the example's ids in config order" "$WANT_IDS" \
    "$(printf '%s\n' "$OUT" | tail -n +2 | cut -f 1)"

run_amps -c "$CONF" list --json
expect_rc "list --json" 0
printf '%s\n' "$OUT" >"$T/list.json"
assert_eq "list --json is valid JSON" 1 \
    "$(sqlite3 :memory: "SELECT json_valid(readfile('$T/list.json'));")"
assert_eq "list --json: one element per channel" $((NSTATIC + NSCHED)) \
    "$(sqlite3 :memory: "SELECT json_array_length(readfile('$T/list.json'));")"

note "init again changes nothing"
SUM1=$(sha256 "$DB")
run_amps -c "$CONF" init
expect_rc "second init" 0
assert_match "second init summary" "$SUMMARY_RE" "$OUT"
assert_match "second init changes nothing" '0 added, 0 updated, 0 removed' "$OUT"
assert_eq "second init: generation" "$GEN1" "$(generation "$OUT")"
assert_eq "second init leaves the file as it was" "$SUM1" "$(sha256 "$DB")"

note "save and the round trip"
dump "$DB" >"$T/dump1.sql"
[ -s "$T/dump1.sql" ] || fail "empty dump of $DB"
run_amps -c "$CONF" save -o "$T/saved.conf"
expect_rc "save -o" 0
assert_match "save -o reports" '^amps: wrote .*saved\.conf$' "$OUT"
[ -s "$T/saved.conf" ] || fail "save -o did not write $T/saved.conf"
[ ! -e "$T/saved.conf.bak" ] || fail "save -o made a .bak of a new file"

run_amps -c "$T/saved.conf" check-config
expect_rc "check-config of the saved file" 0
assert_eq "the saved file has the same content" "$COUNTS" "${OUT#*: ok: }"
assert_eq "the saved file has the same ids" "$WANT_IDS" \
    "$(config_ids "$T/saved.conf" | cut -d' ' -f2)"

# Import the saved file into a fresh database at the same path: it must
# hold what the first one held.  A second later, so that a time taken at
# import (rather than kept in the file) shows up every time.
sleep 1
mkdir "$T/first"
mv "$DB" "$T/first/"
rm -f "$DB-wal" "$DB-shm"
run_amps -c "$T/saved.conf" init
expect_rc "init from the saved file" 0
[ -f "$DB" ] || fail "init from the saved file did not create $DB"
dump "$DB" >"$T/dump2.sql"
diff -u "$T/dump1.sql" "$T/dump2.sql" >"$T/dump.diff" ||
    fail "import, save, import gives another database:
$(cat "$T/dump.diff")"

# And saving that database again writes the same file.
run_amps -c "$T/saved.conf" save -o "$T/saved2.conf"
expect_rc "second save -o" 0
grep -v '^[[:space:]]*#' "$T/saved.conf" >"$T/saved.nc"
grep -v '^[[:space:]]*#' "$T/saved2.conf" >"$T/saved2.nc"
diff -u "$T/saved.nc" "$T/saved2.nc" >"$T/saved.diff" ||
    fail "save, init, save writes another file:
$(cat "$T/saved.diff")"

run_amps -c "$T/saved.conf" save -o "$T/saved2.conf"
expect_rc "save over an existing file" 0
[ -f "$T/saved2.conf.bak" ] || fail "save over an existing file kept no .bak"

note "key add, list, revoke and the merge rule"
run_amps -c "$CONF" init
expect_rc "init before the key tests" 0
run_amps -c "$CONF" key add "$KEY" --role admin
expect_rc "key add" 0
SECRET=$OUT
assert_match "key add prints 64 hex characters" '^[0-9a-f]{64}$' "$SECRET"
assert_eq "key add prints one line" 1 "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')"
LINE=$(key_line "$KEY")
[ -n "$LINE" ] || fail "key list does not show $KEY"
assert_eq "key list: role and origin" "$KEY admin api" \
    "$(printf '%s\n' "$LINE" | awk '{ print $1, $2, $3 }')"
if sqlite3 "$DB" .dump | grep -q "$SECRET"; then
	fail "the key is stored in plain text"
fi

run_amps -c "$CONF" key add "$KEY"
[ "$RC" -ne 0 ] || fail "key add of an existing name succeeded"
run_amps -c "$CONF" key add other --role root
expect_rc "key add --role root" 2
[ -z "$(key_line other)" ] || fail "key add --role root added a key"

run_amps -c "$CONF" init
expect_rc "init after key add" 0
assert_match "init keeps the CLI's key" '0 removed, 1 kept' "$OUT"
[ -n "$(key_line "$KEY")" ] || fail "init removed the key added by the CLI"

run_amps -c "$CONF" key revoke "$KEY"
expect_rc "key revoke" 0
[ -z "$(key_line "$KEY")" ] || fail "key revoke left $KEY"
run_amps -c "$CONF" key revoke "$KEY"
expect_rc "key revoke of a missing key" 1
[ -n "$ERR" ] || fail "key revoke of a missing key: nothing on stderr"

run_amps -c "$CONF" key add "$KEY"
expect_rc "key add (default role)" 0
assert_eq "key add: default role" "$KEY viewer" \
    "$(key_line "$KEY" | awk '{ print $1, $2 }')"
run_amps -c "$CONF" init --force
expect_rc "init --force" 0
assert_match "init --force summary" "$SUMMARY_RE" "$OUT"
[ -z "$(key_line "$KEY")" ] || fail "init --force kept the key added by the CLI"

note "save back to the config file"
run_amps -c "$CONF" save
expect_rc "save" 0
cmp -s "$EXAMPLE" "$CONF.bak" || fail "save did not keep the previous file as .bak"
run_amps -c "$CONF" check-config
expect_rc "check-config after save" 0
assert_eq "check-config after save" "$COUNTS" "${OUT#*: ok: }"

note "an invalid config writes nothing"
mkdir "$T/bad"
copy_file "$EXAMPLE" "$T/bad/amps.conf"
printf '\nno_such_key = 1;\n' >>"$T/bad/amps.conf"
run_amps -c "$T/bad/amps.conf" init
expect_rc "init of an invalid config" 2
assert_eq "one line on stderr" 1 "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')"
assert_match "the error names the key" 'no_such_key' "$ERR"
[ ! -e "$T/bad/$DBREL" ] || fail "init of an invalid config created $T/bad/$DBREL"

note "all passed"
exit 0
