# Starting and stopping the real web servers in front of amps, for the
# integration tests that need a running stack rather than the checks of
# http-checks.sh (browser.sh).  Sourced after tests/blackbox/lib.sh, not
# run.  Every function fails the test (lib.sh's fail) when something does
# not come up; srv_stop_all stops whatever was started and is safe to call
# more than once (call it from the EXIT trap).
#
#   srv_serve_start CONF BASE NAME
#                         amps serve on CONF (lighttpd, amps.fcgi spawned
#                         by lighttpd, streamd), output in NAME.out and
#                         NAME.err; returns once it serves on BASE.  Sets
#                         SRV_SERVE_PID.  AMPS_DATADIR must name the tree
#                         whose lighttpd/amps.conf.in is to be used.
#   srv_serve_stop        SIGTERM to amps serve, waits; fails unless it
#                         exits 0
#   srv_apache_find       sets SRV_APACHE and SRV_APACHE_MODULES; returns 1
#                         when Apache is not installed
#   srv_apache_dirs DIR   sets SRV_RUN_USER, SRV_RUN_GROUP, SRV_WWW (a
#                         folder Apache's workers can read: as root, one
#                         under /tmp, removed by srv_stop_all; else
#                         DIR/www), SRV_MEDIA, SRV_SOCK, SRV_RUN
#   srv_fcgi_start CONF   amps.fcgi --socket SRV_SOCK (as apache/README.md
#                         runs it), output in fcgi.out beside CONF, and a
#                         second one on 127.0.0.1:SRV_AUTHZ_PORT, the
#                         authorizer of media requests
#   srv_apache_start CONF PORT DIR [WS_SOCKET]
#                         fills apache/amps.conf.in into SRV_RUN/httpd.conf,
#                         checks it with apache2 -t, runs Apache in the
#                         foreground (error log DIR/apache-error.log) and
#                         waits until /api/health answers 200
#   srv_streamd_start CONF LOG
#                         streamd -c CONF, its log in LOG, once it says it
#                         started
#   srv_wait_hls BASE ID SEGMENTS SECONDS
#                         waits until BASE/hls/ID/index.m3u8 answers 200
#                         and lists at least SEGMENTS segments
#   srv_stop_all          stops Apache, amps.fcgi, streamd and amps serve
#
# apache.sh and lighttpd.sh start their servers the same way, with more
# checks on the way (processes, socket modes, exit statuses, what is left
# behind); these are the parts that other tests can share.

SRV_SERVE_PID=
SRV_APACHE_PID=
SRV_FCGI_PID=
SRV_AUTHZ_PID=
SRV_AUTHZ_PORT=
SRV_STREAMD_PID=
SRV_WWW=

# srv_wait_pid PID SECONDS: waits for PID (a child of this shell) to end;
# returns 1 if it still runs after SECONDS.  Sets SRV_RC to its status.
srv_wait_pid()
{
	srv_n=0
	while kill -0 "$1" 2>/dev/null; do
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt $(($2 * 10)) ] || return 1
		sleep 0.1
	done
	SRV_RC=0
	wait "$1" || SRV_RC=$?
	return 0
}

# srv_kill PID: SIGTERM, then SIGKILL after 10 s; reaps it.
srv_kill()
{
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null
		if ! srv_wait_pid "$1" 10; then
			kill -KILL "$1" 2>/dev/null
			wait "$1" 2>/dev/null
		fi
	fi
}

srv_serve_start()
{
	srv_conf=$1
	srv_base=$2
	srv_name=$3
	"$AMPS" -c "$srv_conf" serve >"$srv_name.out" 2>"$srv_name.err" &
	SRV_SERVE_PID=$!
	srv_n=0
	until grep -q '^amps: serving ' "$srv_name.out" 2>/dev/null; do
		kill -0 "$SRV_SERVE_PID" 2>/dev/null ||
		    fail "amps serve exited: $(cat "$srv_name.out" "$srv_name.err")"
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt 300 ] ||
		    fail "amps serve does not serve after 30 s: $(cat "$srv_name.out" "$srv_name.err")"
		sleep 0.1
	done
	assert_match "amps serve says where" "^amps: serving $srv_base/ " \
	    "$(cat "$srv_name.out")"
}

srv_serve_stop()
{
	[ -n "$SRV_SERVE_PID" ] || return 0
	kill -TERM "$SRV_SERVE_PID"
	srv_wait_pid "$SRV_SERVE_PID" 20 ||
	    fail "amps serve still runs 20 s after SIGTERM"
	SRV_SERVE_PID=
	assert_eq "amps serve's exit status after SIGTERM" 0 "$SRV_RC"
}

srv_apache_find()
{
	SRV_APACHE=
	for srv_p in apache2 /usr/sbin/apache2 httpd /usr/sbin/httpd; do
		if command -v "$srv_p" >/dev/null 2>&1; then
			SRV_APACHE=$(command -v "$srv_p")
			break
		fi
	done
	[ -n "$SRV_APACHE" ] || return 1
	SRV_APACHE_MODULES=
	for srv_d in /usr/lib/apache2/modules /usr/lib64/httpd/modules \
	    /usr/lib/httpd/modules /usr/libexec/apache2; do
		if [ -f "$srv_d/mod_proxy_fcgi.so" ]; then
			SRV_APACHE_MODULES=$srv_d
			break
		fi
	done
	[ -n "$SRV_APACHE_MODULES" ] ||
	    fail "$SRV_APACHE is installed but mod_proxy_fcgi.so is not found"
	return 0
}

srv_apache_dirs()
{
	# The scratch folder is private (mktemp -d): as root, what Apache's
	# workers read goes to a folder that www-data can reach.
	if [ "$(id -u)" -eq 0 ]; then
		if id www-data >/dev/null 2>&1; then
			SRV_RUN_USER=www-data
		else
			SRV_RUN_USER=nobody
		fi
		SRV_RUN_GROUP=$(id -gn "$SRV_RUN_USER")
		SRV_WWW=$(mktemp -d /tmp/amps-apache.XXXXXX) || fail "mktemp"
		chmod 755 "$SRV_WWW"
	else
		SRV_RUN_USER=$(id -un)
		SRV_RUN_GROUP=$(id -gn)
		SRV_WWW=$1/www
		mkdir -p "$SRV_WWW" || fail "cannot create $SRV_WWW"
	fi
	SRV_MEDIA=$SRV_WWW/media
	SRV_SOCK=$SRV_WWW/run/amps.fcgi.sock
	SRV_RUN=$SRV_WWW/apache
	mkdir -p "$SRV_RUN" "$SRV_MEDIA" || fail "cannot create $SRV_RUN"
	chmod 755 "$SRV_MEDIA"
	# Setgid, of the web server's group: the socket amps.fcgi makes
	# there belongs to that group (apache/README.md).
	install -d -g "$SRV_RUN_GROUP" -m 2750 "$SRV_WWW/run" ||
	    fail "cannot create $SRV_WWW/run"
}

srv_fcgi_start()
{
	srv_out=$(dirname "$1")/fcgi.out
	AMPS_CONF=$1 "$top_builddir/cgi/amps.fcgi" --socket "$SRV_SOCK" \
	    --mode 0660 >"$srv_out" 2>&1 &
	SRV_FCGI_PID=$!
	srv_n=0
	until [ -S "$SRV_SOCK" ]; do
		kill -0 "$SRV_FCGI_PID" 2>/dev/null ||
		    fail "amps.fcgi exited: $(cat "$srv_out")"
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt 100 ] ||
		    fail "amps.fcgi made no socket in 10 s: $(cat "$srv_out")"
		sleep 0.1
	done
	# The authorizer of media requests for Apache: a second amps.fcgi
	# on a loopback port (mod_authnz_fcgi speaks FastCGI over TCP only).
	SRV_AUTHZ_PORT=$(hc_free_port)
	AMPS_CONF=$1 "$top_builddir/cgi/amps.fcgi" \
	    --socket "127.0.0.1:$SRV_AUTHZ_PORT" >"$srv_out.authz" 2>&1 &
	SRV_AUTHZ_PID=$!
	srv_n=0
	until python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
	    "$SRV_AUTHZ_PORT" 2>/dev/null; do
		kill -0 "$SRV_AUTHZ_PID" 2>/dev/null ||
		    fail "amps.fcgi (authorizer) exited: $(cat "$srv_out.authz")"
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt 100 ] ||
		    fail "amps.fcgi (authorizer) does not listen after 10 s"
		sleep 0.1
	done
}

srv_apache_start()
{
	srv_conf=$SRV_RUN/httpd.conf
	srv_log=$3/apache-error.log
	sed -e "s|@LISTEN_ADDRESS@|127.0.0.1|g" \
	    -e "s|@LISTEN_PORT@|$2|g" \
	    -e "s|@MEDIA_ROOT@|$SRV_MEDIA|g" \
	    -e "s|@FCGI_SOCKET@|$SRV_SOCK|g" \
	    -e "s|@AUTHZ_ADDRESS@|127.0.0.1:$SRV_AUTHZ_PORT|g" \
	    -e "s|@WS_SOCKET@|${4:-$SRV_WWW/run/ws.sock}|g" \
	    -e "s|@AMPS_CONF@|$1|g" \
	    -e "s|@RUN_DIR@|$SRV_RUN|g" \
	    -e "s|@PID_FILE@|$SRV_RUN/httpd.pid|g" \
	    -e "s|@ERROR_LOG@|$srv_log|g" \
	    -e "s|@USER@|$SRV_RUN_USER|g" \
	    -e "s|@GROUP@|$SRV_RUN_GROUP|g" \
	    -e "s|@APACHE_MODULES@|$SRV_APACHE_MODULES|g" \
	    "$top_srcdir/apache/amps.conf.in" >"$srv_conf" ||
	    fail "cannot write $srv_conf"
	assert_no_match "no placeholder left in $srv_conf" '@[A-Z_]+@' \
	    "$(cat "$srv_conf")"
	"$SRV_APACHE" -t -f "$srv_conf" >"$3/apache-t.out" 2>&1 ||
	    fail "apache2 -t rejects the config: $(cat "$3/apache-t.out")"
	"$SRV_APACHE" -f "$srv_conf" -DFOREGROUND >"$3/apache.out" 2>&1 &
	SRV_APACHE_PID=$!
	srv_n=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	    "http://127.0.0.1:$2/api/health")" = 200 ]; do
		kill -0 "$SRV_APACHE_PID" 2>/dev/null ||
		    fail "Apache exited: $(cat "$3/apache.out" "$srv_log" 2>/dev/null)"
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt 150 ] ||
		    fail "Apache does not answer after 15 s: $(cat "$3/apache.out" "$srv_log" 2>/dev/null)"
		sleep 0.1
	done
}

srv_streamd_start()
{
	"$top_builddir/streamd/streamd" -c "$1" 2>"$2" &
	SRV_STREAMD_PID=$!
	srv_n=0
	until grep -q 'streamd .* started' "$2" 2>/dev/null; do
		kill -0 "$SRV_STREAMD_PID" 2>/dev/null ||
		    fail "streamd exited: $(cat "$2")"
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt 100 ] ||
		    fail "streamd did not start in 10 s: $(cat "$2")"
		sleep 0.1
	done
}

srv_wait_hls()
{
	srv_url=$1/hls/$2/index.m3u8
	srv_body=$TMPDIR_TEST/srv-hls.m3u8
	srv_n=0
	while :; do
		srv_code=$(curl -s -o "$srv_body" -w '%{http_code}' \
		    --max-time 5 "$srv_url") || srv_code=000
		if [ "$srv_code" = 200 ] &&
		    [ "$(grep -c '^#EXTINF' "$srv_body")" -ge "$3" ]; then
			return 0
		fi
		srv_n=$((srv_n + 1))
		[ "$srv_n" -lt $(($4 * 2)) ] ||
		    fail "$srv_url: no playlist with $3 segments after $4 s (last: HTTP $srv_code: $(head -c 600 "$srv_body" 2>/dev/null))"
		sleep 0.5
	done
}

srv_stop_all()
{
	srv_kill "$SRV_APACHE_PID"
	SRV_APACHE_PID=
	srv_kill "$SRV_FCGI_PID"
	SRV_FCGI_PID=
	srv_kill "$SRV_AUTHZ_PID"
	SRV_AUTHZ_PID=
	srv_kill "$SRV_STREAMD_PID"
	SRV_STREAMD_PID=
	srv_kill "$SRV_SERVE_PID"
	SRV_SERVE_PID=
	case $SRV_WWW in
	/tmp/amps-apache.*) rm -rf "$SRV_WWW" ;;
	esac
	SRV_WWW=
}
