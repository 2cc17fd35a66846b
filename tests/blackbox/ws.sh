# streamd's WebSocket listener (S8) with real media, straight on its unix
# socket in both of its modes: Apache's (an HTTP/1.1 Upgrade request, then
# RFC 6455 frames) and lighttpd's (the request target as one line, then
# raw bytes).  A channel decodes from the bytes received; authorization
# follows the media rules (no credential, a bad one, an API key, signed
# tokens, an expired one, a blocked region, an unknown channel, a channel
# outside its window); an attach that streamd refuses is a 503; the viewer
# count follows the connection; pings, unmasked and oversized frames;
# garbage, oversized lines, slowloris, half-closed sockets and 1000
# connects leave streamd healthy without fd growth; auth off after a
# reload; the socket's start rules; SIGTERM with a client connected.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
WSOCK=$SOCKDIR/ws.sock
WS="python3 $AMPS_TEST_SRCDIR/blackbox/wsclient.py"
KEY=viewer-key-4567
LOOP='ffmpeg_profile = "copy"; input_args = [ "-re", "-stream_loop", "-1" ];'

# conf FILE AUTH WS_SOCKET CONTROL_SOCKET [DATABASE]: the test's amps.conf.
conf()
{
	cat >"$1" <<EOF
server = {
	database = "${5:-amps.db}";
	media_root = "media";
	control_socket = "$4";
	ws_socket = "$3";
	idle_timeout = 600;
	ensure_timeout = 20;
	input_timeout = 3;
	stall_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
};
auth = {
	enabled = $2;
	token = "shared-token-123";
	keys = ( { name = "viewer"; key = "$KEY"; role = "viewer"; } );
};
streams = (
	{ id = 1; name = "AV"; source = "$AV"; $LOOP },
	{ id = 2; name = "Blocked"; source = "$AV"; $LOOP
	  regions_blocked = [ "DE" ]; },
	{ id = 3; name = "Broken"; source = "$TMPDIR_TEST/missing.ts";
	  ffmpeg_profile = "copy"; }
);
scheduled_streams = (
	{ id = 4; name = "Future"; source = "$AV"; ffmpeg_profile = "copy";
	  schedule = { start = "2098-01-01T00:00:00Z";
	  end = "2098-01-02T00:00:00Z"; }; }
);
EOF
}

# wsc NAME ARGS...: runs wsclient.py on the ws socket; its output in
# NAME.out (and WOUT), its exit status in WRC.
wsc()
{
	wn=$1
	shift
	WRC=0
	# shellcheck disable=SC2086
	timeout 60 $WS "$WSOCK" "$@" >"$wn.out" 2>"$wn.err" || WRC=$?
	WOUT=$(cat "$wn.out" "$wn.err")
}

# refused NAME STATUS PATTERN ARGS...: the request is refused with STATUS
# and an error text matching PATTERN.
refused()
{
	rn=$1
	rs=$2
	rp=$3
	shift 3
	wsc "$rn" "$@" --seconds 5
	[ "$WRC" -eq 1 ] ||
	    sd_fail "$rn: expected a refusal (exit 1), got $WRC: $WOUT"
	assert_match "$rn: status" "^status=$rs\$" "$WOUT"
	assert_match "$rn: error" "^error=.*($rp)" "$WOUT"
}

# stream NAME FILE ARGS...: the stream is accepted; 400 kB of it into FILE,
# which then must hold H.264 that decodes without an error.
stream()
{
	sn=$1
	sf=$2
	shift 2
	wsc "$sn" "$@" --bytes 400000 --seconds 30 --out "$sf"
	[ "$WRC" -eq 0 ] || sd_fail "$sn: expected the stream, got $WRC: $WOUT"
	assert_match "$sn: end" "^end=bytes\$" "$WOUT"
	assert_eq "$sn: first byte" 47 "$(head -c 1 "$sf" | od -An -tx1 | tr -d ' ')"
	ts_cut "$sf" "$sf.cut.ts"
	assert_match "$sn: ffprobe" "^h264 320 240\$" "$(probe "$sf.cut.ts")"
	first_key "$sn" "$sf.cut.ts"
	decode "$sf.cut.ts"
}

# sign ID EXPIRY REGION: a signed media token as access_sign makes it.
sign()
{
	python3 - "$SECRET" "$1" "$2" "$3" <<'EOF'
import hashlib, hmac, sys
secret, cid, exp, reg = sys.argv[1:]
msg = "amps-media|%s|%s|%s" % (cid, exp, reg)
mac = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
print("%s.%s.%s" % (exp, reg, mac[:32]))
EOF
}

# fds: streamd's open file descriptors.
fds()
{
	find "/proc/$SD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# viewers_are N: channel 1's pipeline counts N viewers.
viewers_are()
{
	[ "$(st 1 viewers)" = "$1" ]
}

conf amps.conf true "$WSOCK" "$SOCK"
run_amps -c amps.conf check-config
expect_rc "check-config" 0
streamd_start amps.conf streamd.log
[ -S "$WSOCK" ] || sd_fail "no ws socket at $WSOCK"
assert_eq "ws socket mode" 660 "$(stat -c %a "$WSOCK")"
SECRET=$(sqlite3 amps.db 'select secret from identity')
[ ${#SECRET} -eq 64 ] || fail "no secret in the database: [$SECRET]"

note "auth: refusals in both modes"
refused http-none 401 'authentication required' --path /ws/1
refused raw-none 401 'authentication required' --raw --path /ws/1
refused http-bad 401 'invalid credentials' --path '/ws/1?token=nope'
refused raw-bad 401 'invalid credentials' --raw --path '/ws/1?token=nope'
refused http-badhdr 401 'invalid credentials' --path /ws/1 \
    --header 'X-Api-Key: nope'
assert_match "refusals logged" 'warn auth: GET /ws/1 from .*: invalid credentials' \
    "$(cat streamd.log)"
assert_no_match "no token in the log" 'nope' "$(cat streamd.log)"

note "a channel in Apache mode (?token=) and in raw mode"
stream http-key http.ts --path "/ws/1?token=$KEY"
assert_match "http-key: frames" '^frames=[1-9]' "$WOUT"
assert_match "http-key: status" '^status=101$' "$WOUT"
stream raw-key raw.ts --raw --path "GET /ws/1?token=$KEY"
assert_match "raw-key: status" '^status=raw$' "$WOUT"
assert_match "raw-key: no frames" '^frames=0$' "$WOUT"
note "credentials in headers (Apache mode), the shared token"
wsc http-hdr --path /ws/1 --header "X-Api-Key: $KEY" --bytes 10000
assert_eq "X-Api-Key" 0 "$WRC"
wsc http-bearer --path /ws/1 --header "Authorization: Bearer $KEY" \
    --bytes 10000
assert_eq "Authorization: Bearer" 0 "$WRC"
wsc http-amps --path /ws/1 --header "X-Amps-Token: shared-token-123" \
    --bytes 10000
assert_eq "X-Amps-Token" 0 "$WRC"

note "signed tokens"
NOW=$(date +%s)
TOK=$(sign 1 $((NOW + 3600)) -)
stream raw-signed raw-signed.ts --raw --path "/m/$TOK/ws/1"
wsc http-signed --path "/m/$TOK/ws/1" --bytes 10000
assert_eq "signed token in Apache mode: $WOUT" 0 "$WRC"
refused expired 401 'expired' --raw --path "/m/$(sign 1 $((NOW - 10)) -)/ws/1"
refused other-channel 401 'not valid for this channel' --path "/m/$TOK/ws/2"
refused tampered 401 'not valid for this channel' --raw \
    --path "/m/$((NOW + 3601)).-.${TOK##*.}/ws/1"
refused malformed 404 'no such resource' --raw --path '/m/a%20b/ws/1'
# A token signed for a viewer in DE carries the region: channel 2 blocks it.
refused signed-region 403 'not available in DE' --raw \
    --path "/m/$(sign 2 $((NOW + 3600)) DE)/ws/2"
wsc signed-region-ok --raw --path "/m/$(sign 2 $((NOW + 3600)) FR)/ws/2" \
    --bytes 10000
assert_eq "signed for FR on channel 2: $WOUT" 0 "$WRC"

note "regions, unknown channels, bad queries"
refused raw-de 403 'not available in DE' --raw --path "/ws/2?token=$KEY&region=de"
refused http-cf 403 'not available in DE' --path "/ws/2?token=$KEY" \
    --header 'CF-IPCountry: DE'
# ?region= wins over the header; a bad header value is only unknown.
wsc http-region-wins --path "/ws/2?token=$KEY&region=FR" \
    --header 'CF-IPCountry: DE' --bytes 10000
assert_eq "?region= before the header: $WOUT" 0 "$WRC"
refused http-xregion 403 'not available in DE' --path "/ws/2?token=$KEY" \
    --header 'X-Region: nowhere' --header 'CF-IPCountry: DE'
refused bad-region 400 'not an ISO 3166-1' --raw --path "/ws/1?token=$KEY&region=XX"
refused unknown 404 'no such stream: 99' --path "/ws/99?token=$KEY"
refused unknown-raw 404 'no such stream: 99' --raw --path "/ws/99?token=$KEY"
refused window 404 'not on now' --raw --path "/ws/4?token=$KEY"
refused not-ws 404 'no such resource' --raw --path "/hls/1/index.m3u8?token=$KEY"
refused zero-id 404 'no such resource' --raw --path "/ws/01?token=$KEY"
refused overlap 400 'overlap' --raw --path "/ws/1?token=$KEY&overlap=maybe"
refused no-slash 400 'start with /' --raw --path 'ws/1'
refused bad-escape 400 'malformed' --raw --path '/ws/1?token=%zz'
note "an attach that streamd refuses: 503 in both modes"
refused http-broken 503 'stream 3 cannot be played now' --path "/ws/3?token=$KEY"
refused raw-broken 503 'stream 3 cannot be played now' --raw --path "/ws/3?token=$KEY"
assert_no_match "no source path to the client" 'missing' "$(cat http-broken.out raw-broken.out)"
assert_match "the reason in the log" 'warn ws: stream 3 from .*missing.ts' "$(cat streamd.log)"

note "the viewer count follows the connection"
poll "no viewers before" 20 viewers_are 0
$WS "$WSOCK" --path "/ws/1?token=$KEY" --seconds 6 >view.out 2>view.err &
VIEW_PID=$!
HOLD_PIDS="$HOLD_PIDS $VIEW_PID"
poll "one viewer while connected" 10 viewers_are 1
wait "$VIEW_PID" || sd_fail "viewer: $(cat view.out view.err)"
poll "no viewers after" 10 viewers_are 0

note "frames: ping, unmasked, oversized, close"
wsc ping --path "/ws/1?token=$KEY" --ping hello-amps --bytes 100000
assert_eq "ping: $WOUT" 0 "$WRC"
assert_match "pong" '^pong=hello-amps$' "$WOUT"
wsc unmasked --path "/ws/1?token=$KEY" --unmasked --seconds 10
assert_match "unmasked: close 1002" '^close=1002$' "$WOUT"
python3 - "$WSOCK" "$KEY" >frames.out 2>&1 <<'EOF' || sd_fail "frames: $(cat frames.out)"
import base64, os, socket, struct, sys, time

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sys.argv[1])
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws/1?token=%s HTTP/1.1\r\nHost: x\r\n"
               "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (sys.argv[2], key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"HTTP/1.1 101 "), buf[:100]
    return s, buf.partition(b"\r\n\r\n")[2]

def close_code(s, buf):
    """Reads frames until the server's close; returns its code."""
    end = time.monotonic() + 20
    while time.monotonic() < end:
        while len(buf) >= 2:
            n = buf[1] & 0x7f
            hl = 2 + (2 if n == 126 else 8 if n == 127 else 0)
            if len(buf) < hl:
                break
            if n == 126:
                n = struct.unpack("!H", buf[2:4])[0]
            elif n == 127:
                n = struct.unpack("!Q", buf[2:10])[0]
            if len(buf) < hl + n:
                break
            op, payload, buf = buf[0] & 15, buf[hl:hl + n], buf[hl + n:]
            if op == 8:
                return struct.unpack("!H", payload[:2])[0]
        data = s.recv(65536)
        if not data:
            return None
        buf += data
    return "timeout"

def masked(op, payload, fin=True):
    n = len(payload)
    h = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        h += bytes([0x80 | n])
    elif n < 65536:
        h += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        h += bytes([0x80 | 127]) + struct.pack("!Q", n)
    k = os.urandom(4)
    return h + k + bytes(b ^ k[i % 4] for i, b in enumerate(payload))

# A data frame over 64 KiB: 1009, before its payload arrives.
s, buf = conn()
s.sendall(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 70000) + b"abcd")
code = close_code(s, buf)
assert code == 1009, "oversized: %r" % (code,)
# A control frame over 125 bytes or fragmented: 1002.
s, buf = conn()
s.sendall(masked(9, b"x" * 126))
code = close_code(s, buf)
assert code == 1002, "long ping: %r" % (code,)
s, buf = conn()
s.sendall(masked(9, b"x", fin=False))
code = close_code(s, buf)
assert code == 1002, "fragmented ping: %r" % (code,)
# A length with the top bit set: 1002; an unknown opcode: 1002.
s, buf = conn()
s.sendall(bytes([0x82, 0xff]) + b"\xff" * 8 + b"abcd")
code = close_code(s, buf)
assert code in (1002, 1009), "huge length: %r" % (code,)
s, buf = conn()
s.sendall(masked(3, b"x"))
code = close_code(s, buf)
assert code == 1002, "opcode 3: %r" % (code,)
# A 64 KiB binary message and a text message are ignored; the client's
# close is answered with its code.
s, buf = conn()
s.sendall(masked(2, b"y" * 65536) + masked(1, b"/ws/1") +
          masked(8, struct.pack("!H", 4000) + b"bye"))
code = close_code(s, buf)
assert code == 4000, "close echo: %r" % (code,)
print("frames ok")
EOF

note "robustness: garbage, oversized, slowloris, half-closed, 1000 connects"
poll "no viewers before the robustness part" 20 viewers_are 0
sleep 1
FD0=$(fds)
python3 - "$WSOCK" >robust.out 2>&1 <<'EOF' || sd_fail "robust: $(cat robust.out)"
import os, socket, sys, time

P = sys.argv[1]

def c():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(P)
    return s

def answer(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d

# Slow clients first: they must be cut after 10 s, in parallel with the
# rest.
slow = []
for i in range(5):
    s = c()
    s.sendall(b"GET /ws/1 HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
idle = c()
t0 = time.monotonic()

s = c()
s.sendall(os.urandom(3000) + b"\n")
a = answer(s)
assert b'"status":400' in a or b'"status":414' in a, a[:200]
s = c()
s.sendall(b"A" * 5000)
a = answer(s)
assert a.startswith(b'{"error":"request line too long","status":414}'), a
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\nX-A: " + b"b" * 20000 + b"\r\n\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 431 "), a[:100]
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\n" +
          b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 431 "), a[:100]
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\nHost: x\r\n\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 426 ") and b"Connection: close" in a, a
s = c()
s.sendall(b"POST /ws/1 HTTP/1.1\r\nHost: x\r\n\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 405 "), a[:100]
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: "
          b"Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: short\r\n\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 400 "), a[:100]
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\nbroken header\r\n\r\n")
a = answer(s)
assert a.startswith(b"HTTP/1.1 400 "), a[:100]
s = c()
s.sendall(b"/ws/1\x00x\n")
a = answer(s)
assert b'"status":400' in a, a
# Half-closed before and after a partial request.
s = c()
s.shutdown(socket.SHUT_WR)
assert answer(s) == b""
s = c()
s.sendall(b"GET /ws/1 HTTP/1.1\r\nHost")
s.shutdown(socket.SHUT_WR)
assert answer(s) == b""
# 1000 connects in a row, closed at once or after a line.
for i in range(1000):
    s = c()
    if i % 4 == 0:
        s.sendall(b"x\n")
    s.close()
# The slow ones are closed by streamd at 10 s, not before.
for s in slow + [idle]:
    a = answer(s)
    assert a == b"", a
t = time.monotonic() - t0
assert 8 <= t <= 16, "slow clients cut after %.1f s" % t
print("robust ok after %.1f s" % t)
EOF
note "the connection limit: 1024 at once, more are closed and logged"
python3 - "$WSOCK" >limit.out 2>&1 <<'EOF' || sd_fail "limit: $(cat limit.out)"
import socket, sys, time

conns = []
for i in range(1024):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
time.sleep(1)
# Over the limit: closed at once, without a word.
for i in range(3):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    assert s.recv(100) == b"", "connection %d over the limit" % i
    s.close()
# The 1024 are still open (they would be cut at 10 s).
for s in conns:
    s.setblocking(False)
    try:
        s.recv(100)
        raise AssertionError("a connection within the limit was closed")
    except BlockingIOError:
        pass
for s in conns:
    s.close()
print("limit ok")
EOF
assert_match "the limit is logged" \
    'warn ws: 1024 connections already: refused [0-9]+' "$(cat streamd.log)"
kill -0 "$SD_PID" 2>/dev/null || sd_fail "streamd died"
fd_back() { [ "$(fds)" -le "$FD0" ]; }
poll "fd count back to $FD0 (now $(fds))" 15 fd_back
ctl_ok '{"cmd":"status"}'
wsc after-robust --path "/ws/1?token=$KEY" --bytes 100000
assert_eq "a stream after the robustness part: $WOUT" 0 "$WRC"

note "auth off (reload): no credential needed, regions still apply"
conf amps.conf false "$WSOCK" "$SOCK"
kill -HUP "$SD_PID"
auth_off() {
	$WS "$WSOCK" --raw --path /ws/1 --bytes 1000 --seconds 5 >/dev/null 2>&1
}
poll "auth off after SIGHUP" 10 auth_off
refused off-region 403 'not available in DE' --raw --path '/ws/2?region=DE'

note "start rules of the ws socket"
conf other.conf true "$WSOCK" "$SOCKDIR/other.sock" other.db
RC=0
timeout 20 "$STREAMD" -c other.conf 2>other.log || RC=$?
assert_eq "a second streamd on the same ws socket" 1 "$RC"
assert_match "second streamd's reason" 'another streamd is listening' \
    "$(cat other.log)"
[ -S "$WSOCK" ] || sd_fail "the second streamd removed the ws socket"
LONG=$SOCKDIR/$(printf 'x%.0s' $(seq 1 120)).sock
conf long.conf true "$LONG" "$SOCKDIR/long.sock" long.db
RC=0
timeout 20 "$STREAMD" -c long.conf 2>long.log || RC=$?
assert_eq "a ws_socket path too long" 1 "$RC"
assert_match "too long's reason" 'ws_socket .*path too long' "$(cat long.log)"
[ ! -e "$SOCKDIR/long.sock" ] || fail "the control socket was left behind"

note "SIGTERM with clients connected"
$WS "$WSOCK" --path /ws/1 --seconds 60 >term-http.out 2>term-http.err &
T1=$!
$WS "$WSOCK" --raw --path /ws/1 --seconds 60 >term-raw.out 2>term-raw.err &
T2=$!
HOLD_PIDS="$HOLD_PIDS $T1 $T2"
poll "two viewers" 20 viewers_are 2
T0=$(date +%s%N)
streamd_stop "SIGTERM with WebSocket clients"
MS=$((($(date +%s%N) - T0) / 1000000))
assert_eq "exit status" 0 "$SD_STATUS"
[ "$MS" -lt 3000 ] || fail "SIGTERM took $MS ms with clients connected"
wait "$T1" || fail "http client: $(cat term-http.out term-http.err)"
wait "$T2" || fail "raw client: $(cat term-raw.out term-raw.err)"
assert_match "http client got close 1001" '^close=1001$' "$(cat term-http.out)"
assert_match "raw client saw the end" '^end=eof$' "$(cat term-raw.out)"
[ ! -e "$WSOCK" ] || fail "the ws socket is left after exit"
assert_match "stopped" 'info ws: stopped' "$(cat streamd.log)"
exit 0
