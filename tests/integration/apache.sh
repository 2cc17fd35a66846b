# Integration test of the Apache configuration: the real Apache 2.4
# ("apache2 -f FILE -DFOREGROUND") with the config made from the shipped
# template (apache/amps.conf.in) on a free loopback port, its own
# ServerRoot, PidFile and ErrorLog under the test's folder, and amps.fcgi
# started by the test with --socket, as apache/README.md tells operators
# to run it.  The checks of http-checks.sh then go through it.  Run as
# root, Apache's workers are www-data: as apache/README.md says, the
# socket is made in a setgid folder of group www-data, so it belongs to
# that group (mode 0660), and the media and socket live in a folder that
# www-data can reach.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/integration/http-checks.sh
. "$AMPS_TEST_SRCDIR/integration/http-checks.sh"

APACHE=
for p in apache2 /usr/sbin/apache2 httpd /usr/sbin/httpd; do
	if command -v "$p" >/dev/null 2>&1; then
		APACHE=$(command -v "$p")
		break
	fi
done
[ -n "$APACHE" ] || skip "Apache is not installed (tools/install-deps installs apache2)"
MODULES=
for d in /usr/lib/apache2/modules /usr/lib64/httpd/modules \
    /usr/lib/httpd/modules /usr/libexec/apache2; do
	if [ -f "$d/mod_proxy_fcgi.so" ]; then
		MODULES=$d
		break
	fi
done
[ -n "$MODULES" ] || fail "$APACHE is installed but mod_proxy_fcgi.so is not found"
for prog in curl xmllint tv_validate_file pgrep; do
	command -v "$prog" >/dev/null 2>&1 ||
	    fail "$prog is missing (tools/install-deps installs it)"
done
[ -r "$HC_DTD" ] || fail "$HC_DTD is missing (tools/install-deps installs xmltv-util)"
FCGI=$top_builddir/cgi/amps.fcgi
[ -x "$FCGI" ] || fail "$FCGI is not built"

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"

# What Apache's workers read (media, the socket, Apache's own files).
# The scratch folder is private (mktemp -d), so as root they go to a
# folder that www-data can reach.
if [ "$(id -u)" -eq 0 ]; then
	if id www-data >/dev/null 2>&1; then
		RUN_USER=www-data
		RUN_GROUP=$(id -gn www-data)
	else
		RUN_USER=nobody
		RUN_GROUP=$(id -gn nobody)
	fi
	WWW=$(mktemp -d /tmp/amps-apache.XXXXXX) || fail "mktemp"
	chmod 755 "$WWW"
else
	RUN_USER=$(id -un)
	RUN_GROUP=$(id -gn)
	WWW=$T/www
	mkdir -p "$WWW"
fi
MEDIA=$WWW/media
SOCK=$WWW/run/amps.fcgi.sock
RUN=$WWW/apache
mkdir -p "$RUN" || fail "cannot create $RUN"
# The socket's folder: setgid, of the web server's group, so that the
# socket amps.fcgi makes there belongs to that group.
install -d -g "$RUN_GROUP" -m 2750 "$WWW/run" || fail "cannot create $WWW/run"

PORT=$(hc_free_port)
BASE=http://127.0.0.1:$PORT
hc_setup "$T" "$PORT" "$MEDIA"
chmod -R a+rX "$MEDIA"

APACHE_PID=
FCGI_PID=
AUTHZ_PID=
# Whatever happens, no server is left running and the shared folder goes.
stop_all()
{
	for pid in $APACHE_PID $FCGI_PID $AUTHZ_PID; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			wait "$pid"
		fi
	done
	APACHE_PID=
	FCGI_PID=
	AUTHZ_PID=
	case $WWW in
	/tmp/amps-apache.*) rm -rf "$WWW" ;;
	esac
}
trap 'hc_rc=$?; stop_all; (exit $hc_rc); cleanup' EXIT

run_amps -c "$HC_CONF" init
expect_rc "amps init" 0

note "amps.fcgi --socket $SOCK"
AMPS_CONF=$HC_CONF "$FCGI" --socket "$SOCK" --mode 0660 \
    >fcgi.out 2>&1 &
FCGI_PID=$!
n=0
until [ -S "$SOCK" ]; do
	kill -0 "$FCGI_PID" 2>/dev/null || fail "amps.fcgi exited: $(cat fcgi.out)"
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "amps.fcgi made no socket in 10 s: $(cat fcgi.out)"
	sleep 0.1
done
assert_match "socket mode 0660" '^srw-rw----' "$(ls -l "$SOCK")"

# The authorizer of media requests: a second amps.fcgi on a loopback
# port (mod_authnz_fcgi speaks FastCGI over TCP only).
AUTHZ_PORT=$(hc_free_port)
note "amps.fcgi --socket 127.0.0.1:$AUTHZ_PORT (authorizer)"
AMPS_CONF=$HC_CONF "$FCGI" --socket "127.0.0.1:$AUTHZ_PORT" \
    >authz.out 2>&1 &
AUTHZ_PID=$!
n=0
until python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$AUTHZ_PORT" 2>/dev/null; do
	kill -0 "$AUTHZ_PID" 2>/dev/null ||
	    fail "amps.fcgi (authorizer) exited: $(cat authz.out)"
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "amps.fcgi (authorizer) does not listen"
	sleep 0.1
done
assert_eq "socket group" "$RUN_GROUP" "$(stat -c %G "$SOCK")"

note "Apache on $BASE"
CONF=$RUN/httpd.conf
sed -e "s|@LISTEN_ADDRESS@|127.0.0.1|g" \
    -e "s|@LISTEN_PORT@|$PORT|g" \
    -e "s|@MEDIA_ROOT@|$MEDIA|g" \
    -e "s|@FCGI_SOCKET@|$SOCK|g" \
    -e "s|@AUTHZ_ADDRESS@|127.0.0.1:$AUTHZ_PORT|g" \
    -e "s|@WS_SOCKET@|$WWW/run/ws.sock|g" \
    -e "s|@AMPS_CONF@|$HC_CONF|g" \
    -e "s|@RUN_DIR@|$RUN|g" \
    -e "s|@PID_FILE@|$RUN/httpd.pid|g" \
    -e "s|@ERROR_LOG@|$T/apache-error.log|g" \
    -e "s|@USER@|$RUN_USER|g" \
    -e "s|@GROUP@|$RUN_GROUP|g" \
    -e "s|@APACHE_MODULES@|$MODULES|g" \
    "$top_srcdir/apache/amps.conf.in" >"$CONF" ||
    fail "cannot write $CONF"
assert_no_match "no placeholder left" '@[A-Z_]+@' "$(cat "$CONF")"
"$APACHE" -t -f "$CONF" >apache-t.out 2>&1 ||
    fail "apache2 -t rejects the config: $(cat apache-t.out)"

"$APACHE" -f "$CONF" -DFOREGROUND >apache.out 2>&1 &
APACHE_PID=$!
n=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    "$BASE/api/health")" = 200 ]; do
	kill -0 "$APACHE_PID" 2>/dev/null ||
	    fail "Apache exited: $(cat apache.out "$T/apache-error.log" 2>/dev/null)"
	n=$((n + 1))
	[ "$n" -lt 150 ] ||
	    fail "Apache does not answer after 15 s: $(cat apache.out "$T/apache-error.log" 2>/dev/null)"
	sleep 0.1
done
if [ "$(id -u)" -eq 0 ]; then
	workers=$(pgrep -P "$APACHE_PID" | head -n 1)
	[ -n "$workers" ] || fail "no Apache worker process"
	assert_eq "Apache's workers run as $RUN_USER" "$RUN_USER" \
	    "$(ps -o user= -p "$workers" | tr -d ' ')"
fi

hc_run "$BASE"

note "stopping: Apache, then amps.fcgi, both exit 0"
CHILDREN=$(pgrep -P "$APACHE_PID" | tr '\n' ' ')
kill -TERM "$APACHE_PID"
rc=0
wait "$APACHE_PID" || rc=$?
APACHE_PID=
assert_eq "Apache's exit status" 0 "$rc"
kill -TERM "$FCGI_PID"
rc=0
wait "$FCGI_PID" || rc=$?
FCGI_PID=
assert_eq "amps.fcgi's exit status" 0 "$rc"
for pid in $CHILDREN; do
	if kill -0 "$pid" 2>/dev/null; then
		fail "Apache's child $pid is left"
	fi
done
[ ! -e "$SOCK" ] || fail "amps.fcgi left its socket behind"
if grep -q 'AH[0-9]*:.*error' "$T/apache-error.log" 2>/dev/null; then
	fail "errors in Apache's log: $(cat "$T/apache-error.log")"
fi

echo "apache: ok"
