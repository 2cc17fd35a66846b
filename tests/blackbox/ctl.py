#!/usr/bin/env python3
"""A tiny client of streamd's control socket, for the black-box tests.

usage: ctl.py -s SOCKET [options] [REQUEST...]   (or AMPS_CTL_SOCKET=SOCKET)

Sends each REQUEST (one JSON object; read one per line from standard
input when none is given) as one line and prints each reply line as it
came, one per request, on standard output.  In a request, @KEY@ is
replaced by the value of KEY in the latest reply that has it, so that
'{"cmd":"release","lease":@lease@}' releases the lease taken just before
on the same connection.  Exit status 0 when every request got a reply
line, 2 on a socket error, a timeout or a closed connection (what
arrived is printed first).

  --timeout S      seconds to wait for each reply (default 30)
  --time           print "elapsed_ms=N" on standard error after each reply
  --hold           keep the connection open after the replies until killed:
                   a lease then lasts as long as this process
  --attach N -o F  after the (single) request's reply, read N bytes of the
                   raw stream into F (fewer when the server closes: then
                   exit 2); the bytes are counted from the end of the reply
                   line
  --raw            send standard input's bytes exactly as they are, then
                   print every line that comes back until the server closes
                   the connection ("#eof" is printed last), --lines N lines
                   arrived ("#open" last), or --timeout seconds passed
                   without one ("#timeout" last); exit 0 in each case
  --lines N        with --raw, stop after N reply lines
"""

import argparse
import json
import os
import re
import signal
import socket
import sys
import time


class Closed(Exception):
    pass


class Conn:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def readline(self, timeout=None):
        """One line without its newline; Closed at EOF, socket.timeout
        when nothing complete arrived in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply line")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line


def substitute(req, seen):
    def repl(m):
        key = m.group(1)
        if key not in seen:
            sys.exit("ctl.py: no earlier reply has %r" % key)
        return json.dumps(seen[key])
    return re.sub(r"@([A-Za-z_][A-Za-z0-9_]*)@", repl, req)


def out(line):
    sys.stdout.buffer.write(line + b"\n")
    sys.stdout.buffer.flush()


def raw_mode(conn, args):
    data = sys.stdin.buffer.read()
    try:
        conn.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass        # the server closed early: read what it said
    n = 0
    while args.lines is None or n < args.lines:
        try:
            line = conn.readline()
        except Closed as e:
            if e.args[0]:
                out(e.args[0])
            out(b"#eof")
            return 0
        except socket.timeout:
            out(b"#timeout")
            return 0
        out(line)
        n += 1
    out(b"#open")
    return 0


def hold():
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser(add_help=True)
    ap.add_argument("-s", "--socket",
                    default=os.environ.get("AMPS_CTL_SOCKET"))
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--lines", type=int)
    ap.add_argument("--attach", type=int, metavar="N")
    ap.add_argument("-o", "--output")
    ap.add_argument("requests", nargs="*")
    args = ap.parse_args()
    if not args.socket:
        ap.error("no socket (-s or AMPS_CTL_SOCKET)")
    if args.attach is not None and (not args.output or
                                     len(args.requests) != 1):
        ap.error("--attach needs -o FILE and one request")

    try:
        conn = Conn(args.socket, args.timeout)
    except OSError as e:
        print("ctl.py: %s: %s" % (args.socket, e), file=sys.stderr)
        return 2
    if args.raw:
        return raw_mode(conn, args)

    reqs = args.requests
    if not reqs:
        reqs = [l for l in sys.stdin.read().split("\n") if l.strip()]
    seen = {}
    for req in reqs:
        req = substitute(req, seen)
        start = time.monotonic()
        try:
            conn.send(req.encode() + b"\n")
            line = conn.readline()
        except Closed as e:
            if e.args[0]:
                out(e.args[0])
            print("ctl.py: connection closed before the reply to %s"
                  % req, file=sys.stderr)
            return 2
        except socket.timeout:
            print("ctl.py: no reply in %g s to %s" % (args.timeout, req),
                  file=sys.stderr)
            return 2
        except OSError as e:
            print("ctl.py: %s: %s" % (req, e), file=sys.stderr)
            return 2
        if args.time:
            print("elapsed_ms=%d" % ((time.monotonic() - start) * 1000),
                  file=sys.stderr)
        out(line)
        try:
            reply = json.loads(line)
            if isinstance(reply, dict):
                seen.update(reply)
        except ValueError:
            pass

    if args.attach is not None:
        got = 0
        with open(args.output, "wb") as f:
            data = conn.buf[:args.attach]
            f.write(data)
            got = len(data)
            conn.sock.settimeout(args.timeout)
            while got < args.attach:
                try:
                    chunk = conn.sock.recv(min(65536, args.attach - got))
                except socket.timeout:
                    print("ctl.py: attach: %d of %d bytes in %g s" %
                          (got, args.attach, args.timeout),
                          file=sys.stderr)
                    return 2
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    print("ctl.py: attach: closed after %d of %d bytes" %
                          (got, args.attach), file=sys.stderr)
                    return 2
                f.write(chunk)
                got += len(chunk)
    if args.hold:
        hold()
    conn.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
