#!/usr/bin/env python3
"""A WebSocket client for amps's live streams (ws://host/ws/<id>), for
the tests.  Python's standard library only.

usage: wsclient.py TARGET [options]

TARGET is one of
  ws://HOST:PORT[/PATH]  a real WebSocket (RFC 6455) over TCP, as a browser
                         speaks it: through lighttpd (mod_wstunnel) or
                         Apache (mod_proxy_wstunnel);
  a unix socket path     streamd's server.ws_socket directly (also
                         --unix PATH): in Apache mode (an HTTP/1.1 Upgrade
                         request, then frames), or with --raw in lighttpd
                         mode (the request target as one line, then raw
                         bytes), exactly as the two web servers talk to it.

The client contract of amps: the request target (PATH) is ALWAYS sent as
the first text message after the handshake; streamd reads it when the web
server cannot pass the URL (lighttpd) and ignores it otherwise.

options:
  --path P        the request target, e.g. "/ws/1?token=x" (default: the
                  URL's path and query; required with a unix socket)
  --raw           unix socket only: lighttpd mode
  --unix PATH     the unix socket (instead of TARGET)
  --header K:V    an extra handshake header (repeatable): X-Api-Key:...,
                  CF-IPCountry:DE, ...
  --seconds N     receive for N seconds, then close (default 10)
  --bytes N       stop once N payload bytes arrived (default: no limit)
  --out FILE      write the binary payload received to FILE
  --timeout S     seconds to wait for the handshake's answer and for the
                  first byte (default 30)
  --ping TEXT     send a ping with TEXT after the handshake; a pong with
                  the same TEXT must come back ("pong=TEXT" is printed)
  --no-path-message  do not send the path as the first message
  --unmasked      send the path message without a mask (a protocol error
                  the server must answer with close 1002)

Output on standard output, one "key=value" a line, at the end:
  status=101 (handshake accepted; "status=raw" in lighttpd mode),
  pong=TEXT (with --ping), bytes=N (payload received), frames=N (data
  messages; 0 in raw mode), close=CODE when the server sent a close frame
  (else close=none), end=seconds|bytes|eof|close (what ended it).
On a refusal: status=CODE (the HTTP status, or the "status" of the JSON
error line that streamd sends when it cannot answer in HTTP) and
error=TEXT.

Exit status: 0 when the stream was accepted (whatever it then sent);
1 on a refusal; 2 on a connection or protocol error (printed on standard
error).
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ProtocolError(Exception):
    pass


def die(msg):
    sys.stderr.write("wsclient.py: %s\n" % msg)
    sys.exit(2)


def refused(status, error):
    print("status=%s" % status)
    print("error=%s" % error)
    sys.stdout.flush()
    sys.exit(1)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        return data

    def need(self, n, deadline):
        """At least n bytes in buf; False at EOF."""
        while len(self.buf) < n:
            data = self.recv_some(deadline)
            if not data:
                return False
            self.buf += data
        return True

    def take(self, n):
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def frame(opcode, payload, mask=True):
    head = bytes([0x80 | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n <= 0xFFFF:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(conn, deadline):
    """(fin, opcode, payload) or None at EOF."""
    if not conn.need(2, deadline):
        return None
    b0, b1 = conn.buf[0], conn.buf[1]
    if b1 & 0x80:
        raise ProtocolError("the server masked a frame")
    if b0 & 0x70:
        raise ProtocolError("reserved bits set")
    n = b1 & 0x7F
    hl = 2
    if n == 126:
        if not conn.need(4, deadline):
            return None
        n = struct.unpack("!H", conn.buf[2:4])[0]
        hl = 4
    elif n == 127:
        if not conn.need(10, deadline):
            return None
        n = struct.unpack("!Q", conn.buf[2:10])[0]
        hl = 10
    if n > 1 << 24:
        raise ProtocolError("a frame of %d bytes" % n)
    if not conn.need(hl + n, deadline):
        return None
    conn.take(hl)
    return bool(b0 & 0x80), b0 & 0x0F, conn.take(n)


def handshake(conn, host, path, headers, deadline):
    """Sends the Upgrade request; returns normally on 101, exits on a
    refusal."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host,
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
    lines += ["%s: %s" % kv for kv in headers]
    conn.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    while b"\r\n\r\n" not in conn.buf:
        data = conn.recv_some(deadline)
        if not data:
            die("the server closed before answering the handshake: %r"
                % conn.buf[:200])
        conn.buf += data
        if len(conn.buf) > 65536:
            die("an endless response head")
    head, _, conn.buf = conn.buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        die("not an HTTP response: %r" % lines[0])
    status = int(parts[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status != 101:
        body = conn.buf
        length = int(hdrs.get("content-length", "-1"))
        try:
            while length < 0 or len(body) < length:
                data = conn.recv_some(deadline)
                if not data:
                    break
                body += data
        except socket.timeout:
            pass
        if length >= 0:
            body = body[:length]
        try:
            error = json.loads(body.decode())["error"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            error = body.decode("latin-1").strip()
        refused(status, error)
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
    if hdrs.get("sec-websocket-accept", "").encode() != want:
        die("wrong Sec-WebSocket-Accept: %r" %
            hdrs.get("sec-websocket-accept"))
    if hdrs.get("upgrade", "").lower() != "websocket":
        die("no Upgrade: websocket in the 101")


def json_refusal(data):
    """The JSON error line that streamd sends instead of a stream."""
    line = data.split(b"\n", 1)[0]
    try:
        obj = json.loads(line.decode())
    except (ValueError, UnicodeDecodeError):
        die("the stream starts with '{' but is no JSON line: %r"
            % data[:200])
    refused(obj.get("status", "?"), obj.get("error", ""))


def run_frames(conn, args, out):
    """Reads frames until the time or byte limit; returns the summary."""
    start = time.monotonic()
    end_at = start + args.seconds
    first_deadline = start + args.timeout
    got = frames = 0
    close = "none"
    why = "seconds"
    pong_ok = args.ping is None
    try:
        while True:
            deadline = min(end_at, first_deadline) if got == 0 else end_at
            try:
                f = read_frame(conn, deadline)
            except socket.timeout:
                if got == 0 and time.monotonic() < end_at:
                    die("no data within %s s" % args.timeout)
                break
            if f is None:
                why = "eof"
                break
            fin, op, payload = f
            if op == 0x8:
                close = str(struct.unpack("!H", payload[:2])[0]) \
                    if len(payload) >= 2 else "empty"
                why = "close"
                try:
                    conn.sock.sendall(frame(0x8, payload[:2]))
                except OSError:
                    pass
                break
            if op == 0x9:
                conn.sock.sendall(frame(0xA, payload))
                continue
            if op == 0xA:
                if args.ping is not None and \
                        payload == args.ping.encode():
                    print("pong=%s" % payload.decode())
                    pong_ok = True
                continue
            if op in (0x0, 0x1, 0x2):
                if got == 0 and payload.startswith(b"{"):
                    json_refusal(payload)
                frames += 1
                got += len(payload)
                if out is not None:
                    out.write(payload)
                if args.bytes is not None and got >= args.bytes:
                    why = "bytes"
                    break
    except ProtocolError as e:
        die("protocol error: %s" % e)
    if why != "close":
        try:
            conn.sock.sendall(frame(0x8, struct.pack("!H", 1000)))
        except OSError:
            pass
    if not pong_ok:
        die("no pong for the ping")
    return got, frames, close, why


def run_raw(conn, args, out):
    """lighttpd mode: raw bytes; a JSON line instead is a refusal."""
    start = time.monotonic()
    end_at = start + args.seconds
    got = 0
    why = "seconds"
    while True:
        deadline = end_at if got > 0 else min(end_at, start + args.timeout)
        try:
            data = conn.recv_some(deadline)
        except socket.timeout:
            if got == 0 and time.monotonic() < end_at:
                die("no data within %s s" % args.timeout)
            break
        if not data:
            why = "eof"
            break
        if got == 0:
            conn.buf += data
            if conn.buf.startswith(b"{"):
                while b"\n" not in conn.buf:
                    more = conn.recv_some(deadline)
                    if not more:
                        break
                    conn.buf += more
                json_refusal(conn.buf)
            data, conn.buf = conn.buf, b""
        got += len(data)
        if out is not None:
            out.write(data)
        if args.bytes is not None and got >= args.bytes:
            why = "bytes"
            break
    return got, 0, "none", why


def main():
    ap = argparse.ArgumentParser(
        description="WebSocket client for amps's /ws/<id> (see the top of "
        "this file)")
    ap.add_argument("target", nargs="?")
    ap.add_argument("--unix")
    ap.add_argument("--path")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--bytes", type=int)
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--ping")
    ap.add_argument("--no-path-message", action="store_true")
    ap.add_argument("--unmasked", action="store_true")
    args = ap.parse_args()

    headers = []
    for h in args.header:
        k, sep, v = h.partition(":")
        if not sep or not k.strip():
            die("--header wants NAME:VALUE, not %r" % h)
        headers.append((k.strip(), v.strip()))
    unix = args.unix
    if unix is None and args.target and not args.target.startswith("ws://"):
        unix = args.target
    deadline = time.monotonic() + args.timeout
    if unix is not None:
        if args.path is None:
            die("--path is needed with a unix socket")
        path = args.path
        host = "localhost"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(args.timeout)
        try:
            sock.connect(unix)
        except OSError as e:
            die("connect %s: %s" % (unix, e))
    else:
        if args.raw:
            die("--raw is for a unix socket")
        if not args.target:
            die("no TARGET (ws://HOST:PORT/PATH or a unix socket)")
        u = urllib.parse.urlsplit(args.target)
        host = u.netloc
        path = args.path or (u.path or "/") + ("?" + u.query if u.query
                                               else "")
        try:
            sock = socket.create_connection((u.hostname, u.port or 80),
                                            timeout=args.timeout)
        except OSError as e:
            die("connect %s: %s" % (u.netloc, e))
    conn = Conn(sock)
    out = open(args.out, "wb") if args.out else None
    try:
        if args.raw:
            sock.sendall(path.encode() + b"\n")
            status = "raw"
            got, frames, close, why = run_raw(conn, args, out)
        else:
            handshake(conn, host, path, headers, deadline)
            status = "101"
            if args.ping is not None:
                sock.sendall(frame(0x9, args.ping.encode()))
            if not args.no_path_message:
                # The request target and a newline: behind lighttpd's
                # mod_wstunnel the backend sees only the bytes of the
                # messages, and reads this line (streamd(8)).
                sock.sendall(frame(0x1, path.encode() + b"\n",
                                   mask=not args.unmasked))
            got, frames, close, why = run_frames(conn, args, out)
    except socket.timeout:
        die("timed out")
    except OSError as e:
        die("socket: %s" % e)
    finally:
        if out is not None:
            out.close()
    sock.close()
    print("status=%s" % status)
    print("bytes=%d" % got)
    print("frames=%d" % frames)
    print("close=%s" % close)
    print("end=%s" % why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
