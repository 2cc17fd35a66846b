# Integration test in a real browser: headless Chromium (the system's
# chromium package), driven by playwright-core (browser/play.js), opens a
# page where hls.js plays /hls/1/index.m3u8 of a live channel (an
# always_on libavfilter test pattern that streamd encodes to HLS), served
# as static files by (1) lighttpd through amps serve and (2) Apache
# (apache/amps.conf.in) with amps.fcgi and streamd beside it.  For each:
# the video plays (currentTime advances by at least 3 s in 5 s), the
# picture changes, and a screenshot of it is not blank; the screenshot is
# kept as tests/integration/browser-SERVER.png in the build folder.
#
# playwright-core and hls.js come from npm, at the versions pinned in
# browser/package.json, installed once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/amps-test-npm/HASH (outside the tree, so
# that every build and repeated runs share them); that first run needs
# the npm registry.  Playwright's own browsers are never downloaded.
# Missing node, npm or chromium fails the test (tools/install-deps
# installs them); a missing lighttpd or Apache skips the part that needs
# it, and the test exits 77 once the rest has passed.

# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/integration/http-checks.sh
. "$AMPS_TEST_SRCDIR/integration/http-checks.sh"
# shellcheck source=tests/integration/servers.sh
. "$AMPS_TEST_SRCDIR/integration/servers.sh"

BROWSER_SRC=$AMPS_TEST_SRCDIR/integration/browser
# How long each part waits for the channel's first segments.
HLS_WAIT=60

LIGHTTPD=$(command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd)
HAVE_LIGHTTPD=yes
[ -x "$LIGHTTPD" ] || HAVE_LIGHTTPD=
HAVE_APACHE=yes
srv_apache_find || HAVE_APACHE=
[ -n "$HAVE_LIGHTTPD$HAVE_APACHE" ] ||
    skip "neither lighttpd nor Apache is installed (tools/install-deps installs them)"

for prog in curl pgrep sha256sum; do
	command -v "$prog" >/dev/null 2>&1 ||
	    fail "$prog is missing (tools/install-deps installs it)"
done
NODE=$(command -v node 2>/dev/null || command -v nodejs 2>/dev/null) ||
    fail "node is missing (tools/install-deps installs nodejs)"
command -v npm >/dev/null 2>&1 ||
    fail "npm is missing (tools/install-deps installs it)"
# playwright-core 1.61 needs Node.js 18 (Debian 12's) or later.
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
    NODE_MAJOR=0
[ "$NODE_MAJOR" -ge 18 ] 2>/dev/null ||
    fail "$NODE is Node.js $("$NODE" --version 2>&1), playwright-core needs 18 or later (tools/install-deps installs Debian 12's nodejs)"
# AMPS_TEST_CHROMIUM: another Chromium build to use.
CHROMIUM=${AMPS_TEST_CHROMIUM:-}
if [ -z "$CHROMIUM" ]; then
	CHROMIUM=$(command -v chromium 2>/dev/null ||
	    command -v chromium-browser 2>/dev/null) ||
	    fail "chromium is missing (tools/install-deps installs it)"
fi
[ -x "$CHROMIUM" ] ||
    fail "$CHROMIUM is not executable (AMPS_TEST_CHROMIUM names another; tools/install-deps installs chromium)"
for f in "$top_builddir/cgi/amps.fcgi" "$top_builddir/streamd/streamd"; do
	[ -x "$f" ] || fail "$f is not built"
done
for f in package.json player.html play.js; do
	[ -r "$BROWSER_SRC/$f" ] || fail "$BROWSER_SRC/$f is missing"
done

T=$TMPDIR_TEST
cd "$T" || fail "no scratch folder"
trap 'b_rc=$?; srv_stop_all; (exit $b_rc); cleanup' EXIT

# The npm packages, once per version of package.json and its lock file:
# installed into a new folder that is renamed into place when complete,
# so that a run that was cut off or one that runs beside it never sees
# half a tree.
note "npm packages"
if [ -n "${XDG_CACHE_HOME:-}" ]; then
	NPM_CACHE=$XDG_CACHE_HOME/amps-test-npm
elif [ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ -w "$HOME" ]; then
	NPM_CACHE=$HOME/.cache/amps-test-npm
else
	NPM_CACHE=${TMPDIR:-/tmp}/amps-test-npm-$(id -u)
fi
NPM_KEY=$(cat "$BROWSER_SRC/package.json" \
    "$BROWSER_SRC/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)
NPM_DIR=$NPM_CACHE/$NPM_KEY
if [ ! -f "$NPM_DIR/.complete" ]; then
	mkdir -p "$NPM_CACHE" || fail "cannot create $NPM_CACHE"
	rm -rf "$NPM_DIR"
	npm_new=$(mktemp -d "$NPM_CACHE/.new.XXXXXX") || fail "mktemp"
	copy_file "$BROWSER_SRC/package.json" "$npm_new/package.json"
	if [ -r "$BROWSER_SRC/package-lock.json" ]; then
		copy_file "$BROWSER_SRC/package-lock.json" \
		    "$npm_new/package-lock.json"
		set -- ci
	else
		set -- install
	fi
	note "npm $1 into $NPM_DIR"
	if ! (cd "$npm_new" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	    npm "$@" --no-audit --no-fund --ignore-scripts) \
	    >"$T/npm.log" 2>&1; then
		rm -rf "$npm_new"
		fail "npm $1 of $BROWSER_SRC/package.json failed (it needs the npm registry once): $(tail -n 20 "$T/npm.log")"
	fi
	: >"$npm_new/.complete"
	# Another run may have put its copy there first.
	mv -T "$npm_new" "$NPM_DIR" 2>/dev/null || rm -rf "$npm_new"
fi
[ -f "$NPM_DIR/node_modules/hls.js/dist/hls.min.js" ] ||
    fail "$NPM_DIR has no hls.js/dist/hls.min.js"
[ -d "$NPM_DIR/node_modules/playwright-core" ] ||
    fail "$NPM_DIR has no playwright-core"
note "node $("$NODE" --version), $("$CHROMIUM" --version 2>/dev/null | head -n 1)"

# browser_conf FILE PORT MEDIA: an amps.conf whose channel 1 is a live
# libavfilter test pattern, encoded to 2 s HLS segments from the start.
browser_conf()
{
	cat >"$1" <<EOF
server = {
	listen = "127.0.0.1:$2";
	database = "var/amps.db";
	media_root = "$3";
	control_socket = "var/streamd.sock";
	log_level = "info";
};
auth = {
	enabled = false;
};
ffmpeg_profiles = {
	test-360p = {
		video_codec = "libx264";
		video_bitrate = "500k";
		maxrate = "700k";
		bufsize = "1000k";
		preset = "veryfast";
		tune = "zerolatency";
		size = "640x360";
		fps = "25";
		gop = 50;
		pix_fmt = "yuv420p";
		audio_codec = "aac";
		audio_bitrate = "64k";
		output_format = "hls";
		segment_duration = 2;
		playlist_size = 6;
	};
};
streams = (
	{
		id = 1;
		name = "Test Pattern";
		source = "testsrc2=size=640x360:rate=25[out0];sine=frequency=440:sample_rate=48000[out1]";
		input_format = "lavfi";
		input_args = [ "-re" ];
		ffmpeg_profile = "test-360p";
		output_format = "hls";
		always_on = true;
		group = "Test";
		channel_number = 1;
	}
);
EOF
}

# play SERVER BASE: the browser plays channel 1 from BASE.
play()
{
	# No picture of an earlier run stays behind to mislead.
	rm -f "$top_builddir/tests/integration/browser-$1.png"
	note "$1: waiting for a live playlist on $2"
	srv_wait_hls "$2" 1 2 "$HLS_WAIT"
	note "$1: Chromium plays $2/hls/1/index.m3u8"
	png=$T/browser-$1.png
	b_start=$(date +%s)
	rc=0
	"$NODE" "$BROWSER_SRC/play.js" --modules "$NPM_DIR/node_modules" \
	    --chromium "$CHROMIUM" --url "$2/hls/1/index.m3u8" \
	    --out "$png" --seconds 5 --min-advance 3 --timeout 60 ||
	    rc=$?
	mkdir -p "$top_builddir/tests/integration"
	if [ -f "$png" ]; then
		cp "$png" "$top_builddir/tests/integration/browser-$1.png"
	fi
	[ "$rc" -eq 0 ] ||
	    fail "$1: the browser did not play the channel (play.js exit $rc; see above; screenshot $png)"
	[ -s "$png" ] || fail "$1: no screenshot at $png"
	note "$1: played in $(($(date +%s) - b_start)) s"
}

PARTS_SKIPPED=

if [ -n "$HAVE_LIGHTTPD" ]; then
	note "lighttpd through amps serve"
	# The template of this tree, not one that make install put elsewhere.
	AMPS_DATADIR=$top_srcdir
	export AMPS_DATADIR
	mkdir -p "$T/l/var" || fail "cannot create $T/l/var"
	PORT=$(hc_free_port)
	BASE=http://127.0.0.1:$PORT
	browser_conf "$T/l/amps.conf" "$PORT" "$T/l/var/media"
	srv_serve_start "$T/l/amps.conf" "$BASE" "$T/l/serve"
	play lighttpd "$BASE"
	srv_serve_stop
else
	PARTS_SKIPPED="$PARTS_SKIPPED lighttpd"
fi

if [ -n "$HAVE_APACHE" ]; then
	note "Apache with amps.fcgi and streamd"
	A=$T/apache
	mkdir -p "$A/var" || fail "cannot create $A/var"
	srv_apache_dirs "$A"
	PORT=$(hc_free_port)
	BASE=http://127.0.0.1:$PORT
	browser_conf "$A/amps.conf" "$PORT" "$SRV_MEDIA"
	run_amps -c "$A/amps.conf" init
	expect_rc "amps init" 0
	srv_fcgi_start "$A/amps.conf"
	srv_streamd_start "$A/amps.conf" "$A/streamd.log"
	srv_apache_start "$A/amps.conf" "$PORT" "$A"
	play apache "$BASE"
	srv_stop_all
else
	PARTS_SKIPPED="$PARTS_SKIPPED apache"
fi

if [ -n "$PARTS_SKIPPED" ]; then
	skip "not installed, not tried:$PARTS_SKIPPED (tools/install-deps installs them; the rest played)"
fi
echo "browser: ok"
