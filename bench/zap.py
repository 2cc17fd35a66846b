#!/usr/bin/env python3
"""streamd's control socket and zap times, for bench/streamd.sh.  Not a
test: it prints numbers.

usage: zap.py ensure -s SOCKET [-o OUTPUT] [-t SECONDS] ID...
       zap.py cold -s SOCKET -m MEDIA_ROOT [-o OUTPUT] [-n RUNS] ID
       zap.py ffmpeg [-n RUNS] [--hls-time S] -d DIR SOURCE

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
         is stopped at once after each.

cold and ffmpeg print KEY=VALUE lines: runs=, ok=, failed=, p50=, p95=,
min=, max= (milliseconds; p50 and p95 by the nearest rank) and all=
(every time, comma-separated, in the order measured); error= the last
error, if any.
"""

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time


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
        t0 = time.monotonic()
        proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
             "-re", "-i", args.source, "-c", "copy", "-f", "hls",
             "-hls_time", str(args.hls_time), playlist],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True)
        try:
            while not os.path.exists(playlist):
                if proc.poll() is not None or time.monotonic() - t0 > 30:
                    break
                time.sleep(0.002)
            elapsed = time.monotonic() - t0
            if os.path.exists(playlist):
                times.append(elapsed)
            else:
                failed += 1
                error = "no %s after %.1f s (see run%d.log)" % (
                    playlist, elapsed, run)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        shutil.rmtree(out, ignore_errors=True)
        time.sleep(0.2)
    report(times, failed, error)
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
    p.add_argument("-d", "--dir", required=True)
    p.add_argument("source")
    args = ap.parse_args()
    try:
        return {"ensure": cmd_ensure, "cold": cmd_cold,
                "ffmpeg": cmd_ffmpeg}[args.cmd](args)
    except (OSError, RuntimeError, ValueError) as e:
        print("zap.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
