#!/usr/bin/env python3
"""streamd's control socket and zap times, for bench/streamd.sh.  Not a
test: it prints numbers.

usage: zap.py ensure -s SOCKET [-o OUTPUT] [-t SECONDS] ID...
       zap.py cold -s SOCKET -m MEDIA_ROOT [-o OUTPUT] [-n RUNS] ID
       zap.py ffmpeg [-n RUNS] [--hls-time S | --ts] -d DIR SOURCE
       zap.py first-byte [-n RUNS] [-s SOCKET] [--hold URL] URL...
       zap.py playlist [-n RUNS] [-s SOCKET] URL...
       zap.py idle -s SOCKET [-t SECONDS] ID...

ensure   sends {"cmd":"ensure","stream":ID,"output":OUTPUT} for every ID
         at once, one connection each, and waits for every reply
         (-t, default 60 s); prints ms=N (the slowest reply, from the
         moment the requests went out) and failed=N; exit 1 when one
         failed, with the errors on standard error.
cold     zap time of a cold channel, RUNS times (default 10): ensure
         OUTPUT (default hls) of channel ID, time from sending the
         request to the reply, then {"cmd":"stop"} and wait until status
         no longer lists the channel running and its folder under
         MEDIA_ROOT/hls is gone (the next run is cold again).
ffmpeg   the reference: "ffmpeg -re -i SOURCE -c copy -f hls -hls_time S
         DIR/RUN/index.m3u8", time from starting the process until
         index.m3u8 exists (polled every 2 ms), RUNS times; the process
         is stopped at once after each.  With --ts: "ffmpeg -re -i
         SOURCE -c copy -f mpegts pipe:1", time from starting the
         process until the first byte on its standard output.
first-byte  through the web server: time from opening the connection
         (GET URL, HTTP/1.1) to the first byte of the body, RUNS times
         (default 10); run i takes the i-th URL (cycling), so that a
         list of channels that never ran gives a cold start each run.
         The body must start with the MPEG-TS sync byte 0x47 when the
         URL names /stream/.  --hold URL first opens one viewer there
         and keeps reading it in the background until the end (a
         running channel); -s SOCKET: after each run, wait until the
         channel of the URL (/stream/ID, /hls/ID/) is no longer
         running (the idle stop), so that runs do not overlap.  Runs
         are spaced by a pause of 0.5 to 2.5 s (a fixed pseudo-random
         sequence: where a run falls in the GOP varies).
playlist time from the first GET of URL (an HLS media playlist of a
         channel that is not running) until a 200 whose body lists a
         segment (#EXTINF), asking again at once after any other answer
         (the count of requests is in tries=); -s and the URL list as
         for first-byte.
idle     waits (-t, default 60 s) until none of the IDs is running.

cold, ffmpeg, first-byte and playlist print KEY=VALUE lines: runs=,
ok=, failed=, p50=, p95=, min=, max= (milliseconds; p50 and p95 by the
nearest rank) and all= (every time, comma-separated, in the order
measured); error= the last error, if any.
"""

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse


def request(path, req, timeout):
    """Sends one request on a new connection: (reply, seconds)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        t0 = time.monotonic()
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed before the reply")
            buf += chunk
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    return json.loads(buf.split(b"\n")[0]), elapsed


def running(sock, sid):
    """Whether status lists channel SID's main pipeline as not stopped."""
    reply, _ = request(sock, {"cmd": "status"}, 10)
    for p in reply.get("pipelines", []):
        if p.get("stream") == sid and not p.get("variant") and \
                p.get("state") not in ("stopped", "failed", "idle"):
            return True
    return False


def cmd_ensure(args):
    results = {}
    t0 = time.monotonic()

    def one(sid):
        try:
            reply, _ = request(args.socket, {"cmd": "ensure", "stream": sid,
                                             "output": args.output},
                               args.timeout)
        except (OSError, ValueError) as e:
            reply = {"ok": False, "error": str(e)}
        results[sid] = (reply, time.monotonic() - t0)

    threads = [threading.Thread(target=one, args=(int(i),))
               for i in args.ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [(sid, r) for sid, (r, _) in results.items() if not r.get("ok")]
    for sid, r in failed:
        print("zap.py: ensure %d %s: %s" % (sid, args.output,
                                          r.get("error")), file=sys.stderr)
    print("ms=%d" % (max(e for _, e in results.values()) * 1000))
    print("failed=%d" % len(failed))
    return 1 if failed else 0


def report(times, failed, error):
    times_ms = [t * 1000 for t in times]
    s = sorted(times_ms)

    def rank(q):
        return s[max(0, math.ceil(q * len(s)) - 1)] if s else 0

    print("runs=%d" % (len(times) + failed))
    print("ok=%d" % len(times))
    print("failed=%d" % failed)
    print("p50=%.0f" % rank(0.50))
    print("p95=%.0f" % rank(0.95))
    print("min=%.0f" % (s[0] if s else 0))
    print("max=%.0f" % (s[-1] if s else 0))
    print("all=%s" % ",".join("%.0f" % t for t in times_ms))
    if error:
        print("error=%s" % " ".join(error.split()))


def wait_until(what, cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("%s after %g s" % (what, timeout))
        time.sleep(0.05)


def cmd_cold(args):
    sid = int(args.id)
    folder = os.path.join(args.media, "hls", str(sid))
    times = []
    failed = 0
    error = None
    for _ in range(args.runs):
        if running(args.socket, sid):
            request(args.socket, {"cmd": "stop", "stream": sid}, 30)
            wait_until("channel %d still running" % sid,
                       lambda: not running(args.socket, sid), 20)
        wait_until("%s still there" % folder,
                   lambda: not os.path.exists(folder), 20)
        time.sleep(0.2)
        try:
            reply, elapsed = request(args.socket,
                                     {"cmd": "ensure", "stream": sid,
                                      "output": args.output}, 60)
        except (OSError, ValueError) as e:
            reply, elapsed = {"ok": False, "error": str(e)}, 0
        if reply.get("ok"):
            times.append(elapsed)
        else:
            failed += 1
            error = str(reply.get("error"))
        request(args.socket, {"cmd": "stop", "stream": sid}, 30)
        wait_until("channel %d still running" % sid,
                   lambda: not running(args.socket, sid), 20)
    wait_until("%s still there" % folder,
               lambda: not os.path.exists(folder), 20)
    report(times, failed, error)
    return 0


def cmd_ffmpeg(args):
    times = []
    failed = 0
    error = None
    for run in range(args.runs):
        out = os.path.join(args.dir, "run%d" % run)
        os.makedirs(out, exist_ok=True)
        playlist = os.path.join(out, "index.m3u8")
        log = open(os.path.join(args.dir, "run%d.log" % run), "wb")
        if args.ts:
            what = "a byte on ffmpeg's standard output"
            cmd = ["-f", "mpegts", "pipe:1"]
        else:
            what = playlist
            cmd = ["-f", "hls", "-hls_time", str(args.hls_time), playlist]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
             "-re", "-i", args.source, "-c", "copy"] + cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if args.ts else subprocess.DEVNULL,
            stderr=log, start_new_session=True)
        try:
            if args.ts:
                got = len(proc.stdout.read(1)) == 1
            else:
                while not os.path.exists(playlist):
                    if proc.poll() is not None or \
                            time.monotonic() - t0 > 30:
                        break
                    time.sleep(0.002)
                got = os.path.exists(playlist)
            elapsed = time.monotonic() - t0
            if got:
                times.append(elapsed)
            else:
                failed += 1
                error = "no %s after %.1f s (see run%d.log)" % (
                    what, elapsed, run)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            log.close()
        shutil.rmtree(out, ignore_errors=True)
        time.sleep(0.2)
    report(times, failed, error)
    return 0


def channel_of(url):
    """The channel id a /stream/ID or /hls/ID/... URL names, or None."""
    m = re.search(r"/(?:stream|audio|hls|dash)/([0-9]+)",
                  urllib.parse.urlsplit(url).path)
    return int(m.group(1)) if m else None


def http_get(url, timeout):
    """Opens GET URL: (connection, response) once the head is in."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                      timeout=timeout)
    conn.request("GET", u.path + ("?" + u.query if u.query else ""),
                 headers={"User-Agent": "amps-bench"})
    return conn, conn.getresponse()


class Holder(threading.Thread):
    """One viewer that reads URL in the background until stopped."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.first = threading.Event()
        self.bytes = 0
        self.error = None
        self.stop = False

    def run(self):
        conn = None
        try:
            conn, resp = http_get(self.url, 30)
            if resp.status != 200:
                raise OSError("HTTP %d" % resp.status)
            while not self.stop:
                data = resp.read1(65536)
                if not data:
                    raise OSError("the held stream ended")
                self.bytes += len(data)
                self.first.set()
        except (OSError, http.client.HTTPException) as e:
            self.error = str(e)
        finally:
            self.first.set()
            if conn is not None:
                conn.close()


def idle_wait(sock, sid, timeout=60):
    wait_until("channel %d still running" % sid,
               lambda: not running(sock, sid), timeout)


def pause(rng):
    time.sleep(rng.uniform(0.5, 2.5))


def cmd_first_byte(args):
    times = []
    failed = 0
    error = None
    rng = random.Random(1)
    holder = None
    if args.hold:
        holder = Holder(args.hold)
        holder.start()
        holder.first.wait(60)
        if holder.error is not None or holder.bytes == 0:
            raise RuntimeError("%s: %s" % (args.hold, holder.error or
                                           "no byte after 60 s"))
        time.sleep(2)
    for run in range(args.runs):
        url = args.urls[run % len(args.urls)]
        sid = channel_of(url)
        if args.socket and sid is not None and running(args.socket, sid) \
                and not args.hold:
            idle_wait(args.socket, sid)
        conn = None
        try:
            t0 = time.monotonic()
            conn, resp = http_get(url, 60)
            if resp.status != 200:
                raise OSError("HTTP %d: %s" % (resp.status,
                                               resp.read(200)))
            first = resp.read(1)
            elapsed = time.monotonic() - t0
            if not first:
                raise OSError("the body is empty")
            if "/stream/" in url and first != b"\x47":
                raise OSError("the body starts with %r, not 0x47" % first)
            times.append(elapsed)
        except (OSError, http.client.HTTPException) as e:
            failed += 1
            error = "%s: %s" % (url, e)
        finally:
            if conn is not None:
                conn.close()
        if args.socket and sid is not None and not args.hold:
            idle_wait(args.socket, sid)
        if holder is not None and holder.error is not None:
            error = "%s: %s" % (args.hold, holder.error)
        if run + 1 < args.runs:
            pause(rng)
    if holder is not None:
        holder.stop = True
        if holder.error is not None:
            error = "%s: %s" % (args.hold, holder.error)
    report(times, failed, error)
    return 0


def cmd_playlist(args):
    times = []
    failed = 0
    error = None
    tries = []
    rng = random.Random(1)
    for run in range(args.runs):
        url = args.urls[run % len(args.urls)]
        sid = channel_of(url)
        if args.socket and sid is not None and running(args.socket, sid):
            idle_wait(args.socket, sid)
        t0 = time.monotonic()
        n = 0
        last = None
        while time.monotonic() - t0 < 60:
            n += 1
            conn = None
            try:
                conn, resp = http_get(url, 60)
                body = resp.read()
                if resp.status == 200 and b"#EXTINF" in body:
                    break
                last = "HTTP %d: %s" % (resp.status, " ".join(
                    body[:200].decode("utf-8", "replace").split()))
            except (OSError, http.client.HTTPException) as e:
                last = str(e)
            finally:
                if conn is not None:
                    conn.close()
            time.sleep(0.01)
        else:
            failed += 1
            error = "%s: no playlist with a segment in 60 s (%s)" % (
                url, last)
            n = 0
        if n:
            times.append(time.monotonic() - t0)
            tries.append(n)
        if args.socket and sid is not None:
            idle_wait(args.socket, sid)
        if run + 1 < args.runs:
            pause(rng)
    report(times, failed, error)
    print("tries=%s" % ",".join(str(n) for n in tries))
    return 0


def cmd_idle(args):
    for i in args.ids:
        idle_wait(args.socket, int(i), args.timeout)
    return 0


def main():
    # A TERM from the benchmark's trap ends the run through the finally
    # blocks, which stop the ffmpeg started here.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    signal.signal(signal.SIGHUP, lambda *a: sys.exit(1))
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ensure")
    p.add_argument("-s", "--socket", required=True)
    p.add_argument("-o", "--output", default="hls")
    p.add_argument("-t", "--timeout", type=float, default=60)
    p.add_argument("ids", nargs="+")
    p = sub.add_parser("cold")
    p.add_argument("-s", "--socket", required=True)
    p.add_argument("-m", "--media", required=True)
    p.add_argument("-o", "--output", default="hls")
    p.add_argument("-n", "--runs", type=int, default=10)
    p.add_argument("id")
    p = sub.add_parser("ffmpeg")
    p.add_argument("-n", "--runs", type=int, default=10)
    p.add_argument("--hls-time", type=int, default=2)
    p.add_argument("--ts", action="store_true")
    p.add_argument("-d", "--dir", required=True)
    p.add_argument("source")
    p = sub.add_parser("first-byte")
    p.add_argument("-n", "--runs", type=int, default=10)
    p.add_argument("-s", "--socket")
    p.add_argument("--hold")
    p.add_argument("urls", nargs="+")
    p = sub.add_parser("playlist")
    p.add_argument("-n", "--runs", type=int, default=10)
    p.add_argument("-s", "--socket")
    p.add_argument("urls", nargs="+")
    p = sub.add_parser("idle")
    p.add_argument("-s", "--socket", required=True)
    p.add_argument("-t", "--timeout", type=float, default=60)
    p.add_argument("ids", nargs="+")
    args = ap.parse_args()
    try:
        return {"ensure": cmd_ensure, "cold": cmd_cold,
                "ffmpeg": cmd_ffmpeg, "first-byte": cmd_first_byte,
                "playlist": cmd_playlist, "idle": cmd_idle}[args.cmd](args)
    except (OSError, RuntimeError, ValueError) as e:
        print("zap.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
