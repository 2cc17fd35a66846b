#!/usr/bin/env python3
"""Many HTTP viewers of one URL in one asyncio process, for
bench/viewers.sh.  Not a test: it prints numbers.

usage: viewers.py -u URL -n N -w SECONDS [--warmup SECONDS]
                  [--expect BYTES_PER_S] [--pace BYTES_PER_S]
                  [--proc NAME=PID]...

Opens N connections to URL at once (HTTP/1.0, so that the body comes
unframed until the server closes), reads each body and counts its bytes
per connection per second.  After --warmup seconds (default 5; the
connection storm and whatever a server sends at once on attach fall in
it) the window of SECONDS starts; bytes are counted from then.  --pace
reads each connection at most that many bytes per second (the static
reference: a file is not rate-limited, so the client paces it, and TCP
makes the server wait); otherwise bytes are read as they come.

Each --proc NAME=PID is measured over the window, that process alone
(not its children: lighttpd's amps.fcgi is measured on its own): CPU
seconds (utime+stime, every thread), PSS and Anonymous (smaps_rollup)
at the end, and the thread count (the highest seen, sampled every
second).  This process's
own CPU and the machine's busy share (/proc/stat) over the window are
printed too: the client competes with the servers for the same cores.

Printed on standard output as KEY=VALUE lines: n, connected (answered
200), failed (no connection or not 200; the first error in error=),
dropped (ended before the window did), ttfb_p50 / ttfb_max (ms from
the connection to the first body byte), wall_s (the window as measured,
which the CPU figures cover), window_s (the whole seconds the bytes are
counted over), bytes (in the window, all viewers), rate_median (bytes/s of the median viewer), and with
--expect the fraction of EXPECT each viewer got: frac_min, frac_p5,
frac_median, frac_max, ok95 (viewers with at least 0.95); stall_viewers
and stall_s (viewers with a second of the window without a byte, and
how many such viewer-seconds); then for each NAME: NAME_cpu_s,
NAME_pss_mib, NAME_anon_mib, NAME_threads, NAME_alive (0 when it
exited); client_cpu_s,
machine_busy (0..1 of all cores).
"""

import argparse
import asyncio
import math
import os
import sys
import time
import urllib.parse

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import window  # noqa: E402  (stat_of, kib_field, TICK)


class Viewer(asyncio.BufferedProtocol):
    """One connection: the response head, then body bytes per second.
    Read into one buffer of its own (no bytes object per read); a paced
    viewer reads at most 16 KiB at a time, so that it overshoots its
    budget by little."""

    def __init__(self, bench):
        self.bench = bench
        self.buf = bytearray(16384 if bench.pace else 65536)
        self.view = memoryview(self.buf)
        self.transport = None
        self.head = b""
        self.status = None
        self.t_connect = None
        self.t_closed = None
        self.ttfb = None
        self.buckets = {}       # second of the window -> bytes
        self.read = 0           # body bytes read (for --pace)
        self.paused = False
        self.closed = False
        self.error = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.bench.request)

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        n = nbytes
        if self.status is None:
            self.head += self.buf[:nbytes]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 65536:
                    self.fail("no end of the response head")
                return
            line = self.head.split(b"\r\n", 1)[0].split()
            self.status = int(line[1]) if len(line) > 1 and \
                line[1].isdigit() else 0
            n = len(self.head) - (end + 4)
            self.head = b""
            if self.status != 200:
                self.fail("HTTP %d" % self.status)
                return
        if n == 0:
            return
        now = time.monotonic()
        if self.ttfb is None:
            self.ttfb = now - self.t_connect
        self.read += n
        sec = math.floor(now - self.bench.t_window)
        if 0 <= sec < self.bench.seconds:
            self.buckets[sec] = self.buckets.get(sec, 0) + n
        if self.bench.pace and self.read >= self.bench.allowed(now):
            self.transport.pause_reading()
            self.paused = True

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        self.closed = True
        self.t_closed = time.monotonic()
        if self.error is None and exc is not None:
            self.error = str(exc)

    def fail(self, why):
        if self.error is None:
            self.error = why
        self.transport.close()


class Bench:
    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        self.host = u.hostname
        self.port = u.port or 80
        path = u.path + ("?" + u.query if u.query else "")
        self.request = ("GET %s HTTP/1.0\r\nHost: %s\r\n"
                        "User-Agent: amps-bench\r\n\r\n" %
                        (path, u.netloc)).encode()
        self.seconds = int(args.window)
        self.pace = args.pace
        self.t_start = None
        self.t_window = None

    def allowed(self, now):
        """Bytes a paced viewer may have read by now: PACE per second
        from the start, plus one second's worth of slack."""
        return self.pace * (now - self.t_start + 1)


async def connect(loop, bench, v):
    v.t_connect = time.monotonic()
    try:
        await loop.create_connection(lambda: v, bench.host, bench.port)
    except OSError as e:
        v.error = str(e)
        v.closed = True


def proc_times():
    """(busy, total) jiffies of the machine from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


class Procs:
    """CPU, memory and threads of the --proc processes over the window."""

    def __init__(self, specs):
        self.procs = []
        for spec in specs:
            name, pid = spec.split("=", 1)
            self.procs.append((name, int(pid)))
        self.cpu0 = {}
        self.last = {}
        self.threads = {name: 0 for name, _ in self.procs}

    def sample(self, first=False):
        for name, pid in self.procs:
            st = window.stat_of(pid)
            if st is None:
                continue
            if first:
                self.cpu0[name] = st[1]
            self.last[name] = st[1]
            self.threads[name] = max(self.threads[name], window.kib_field(
                "/proc/%d/status" % pid, "Threads"))

    def report(self):
        out = []
        for name, pid in self.procs:
            st = window.stat_of(pid)
            alive = st is not None
            cpu = (st[1] if alive else self.last.get(name, 0)) - \
                self.cpu0.get(name, 0)
            rollup = "/proc/%d/smaps_rollup" % pid
            out.append("%s_cpu_s=%.2f" % (name, cpu / window.TICK))
            out.append("%s_pss_mib=%.1f" % (
                name, window.kib_field(rollup, "Pss") / 1024))
            out.append("%s_anon_mib=%.1f" % (
                name, window.kib_field(rollup, "Anonymous") / 1024))
            out.append("%s_threads=%d" % (name, self.threads[name]))
            out.append("%s_alive=%d" % (name, alive))
        return out


def rank(sorted_vals, q):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return 0
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


async def run(args):
    loop = asyncio.get_running_loop()
    bench = Bench(args)
    procs = Procs(args.proc)
    viewers = [Viewer(bench) for _ in range(args.n)]
    bench.t_start = time.monotonic()
    bench.t_window = bench.t_start + args.warmup
    await asyncio.gather(*(connect(loop, bench, v) for v in viewers))

    t_end = bench.t_window + bench.seconds
    started = False
    next_sample = bench.t_window + 1
    busy0 = cpu_self0 = None
    while True:
        now = time.monotonic()
        if now >= t_end:
            break
        if not started and now >= bench.t_window:
            started = True
            procs.sample(first=True)
            busy0 = proc_times()
            cpu_self0 = time.process_time()
        elif started and now >= next_sample:
            next_sample += 1
            procs.sample()
        if bench.pace:
            for v in viewers:
                if v.paused and not v.closed and \
                        v.read < bench.allowed(now):
                    v.paused = False
                    v.transport.resume_reading()
        await asyncio.sleep(0.02 if bench.pace else 0.1)
    if not started:
        procs.sample(first=True)
        busy0 = proc_times()
        cpu_self0 = time.process_time()
    wall = time.monotonic() - bench.t_window
    busy1 = proc_times()
    cpu_self = time.process_time() - cpu_self0
    lines = procs.report()
    for v in viewers:
        if v.transport is not None and not v.closed:
            v.transport.close()

    ok = [v for v in viewers if v.status == 200]
    failed = [v for v in viewers if v.status != 200]
    dropped = [v for v in ok if v.closed and v.t_closed < t_end]
    errors = [v.error for v in viewers if v.error]
    ttfb = sorted(v.ttfb * 1000 for v in ok if v.ttfb is not None)
    # The buckets cover exactly the window's seconds.
    rates = sorted(sum(v.buckets.values()) / bench.seconds for v in ok)
    total = sum(sum(v.buckets.values()) for v in ok)
    # A second without a byte, counted only while the viewer was still
    # connected (a dropped one is counted in dropped).
    stall_viewers = 0
    stall_s = 0
    for v in ok:
        last = bench.seconds
        if v.closed and v.t_closed < t_end:
            last = max(0, math.floor(v.t_closed - bench.t_window))
        gaps = sum(1 for s in range(last) if v.buckets.get(s, 0) == 0)
        if gaps:
            stall_viewers += 1
            stall_s += gaps

    print("n=%d" % args.n)
    print("connected=%d" % len(ok))
    print("failed=%d" % len(failed))
    print("dropped=%d" % len(dropped))
    print("ttfb_p50=%.0f" % rank(ttfb, 0.5))
    print("ttfb_max=%.0f" % (ttfb[-1] if ttfb else 0))
    print("wall_s=%.2f" % wall)
    print("window_s=%d" % bench.seconds)
    print("bytes=%d" % total)
    print("rate_median=%.0f" % rank(rates, 0.5))
    if args.expect:
        # Failed viewers count as 0.
        fr = sorted([r / args.expect for r in rates] + [0.0] * len(failed))
        print("frac_min=%.3f" % (fr[0] if fr else 0))
        print("frac_p5=%.3f" % rank(fr, 0.05))
        print("frac_median=%.3f" % rank(fr, 0.5))
        print("frac_max=%.3f" % (fr[-1] if fr else 0))
        print("ok95=%d" % sum(1 for f in fr if f >= 0.95))
    print("stall_viewers=%d" % stall_viewers)
    print("stall_s=%d" % stall_s)
    for line in lines:
        print(line)
    print("client_cpu_s=%.2f" % cpu_self)
    db, dt = busy1[0] - busy0[0], busy1[1] - busy0[1]
    print("machine_busy=%.2f" % (db / dt if dt > 0 else 0))
    if errors:
        print("error=%s" % " ".join(errors[0].split()))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-u", "--url", required=True)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("-w", "--window", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--expect", type=float, default=0)
    ap.add_argument("--pace", type=float, default=0)
    ap.add_argument("--proc", action="append", default=[])
    args = ap.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
