#!/usr/bin/env python3
"""Measures a group of processes over one wall-clock window, for
bench/streamd.sh.  Not a test: it prints numbers.

usage: window.py -w SECONDS [-s SOCKET] [--progress FILE]...
                 [--playlist FILE]... PID...

The group is each PID and every descendant of it (looked up again each
second, so that children started meanwhile count from when they are
first seen).  Printed on standard output as KEY=VALUE lines:

  wall_s     the window's length as measured
  cpu_s      CPU seconds (utime + stime from /proc/PID/stat, every thread)
             the group used in the window: the sum of each process's
             delta; a process that exits within the window takes its
             time with it (counted in "lost")
  procs      processes in the group at the end
  lost       processes that exited within the window
  pss_mib    the sum of Pss (/proc/PID/smaps_rollup) at the end, in MiB:
             shared pages are split between the processes that map them
  rss_mib    the sum of VmRSS (/proc/PID/status) at the end, in MiB:
             shared pages count once per process
  anon_mib   the sum of Anonymous (/proc/PID/smaps_rollup) at the end,
             in MiB: heap, stacks and other private memory, which does
             not depend on what other processes on the machine map
  fps        the frame rate achieved over the window, the mean over the
             sources: each --progress FILE (ffmpeg -progress: the delta
             of frame= between the first and the last complete block
             over the time between them), or each of streamd's pipelines
             (-s: the mean of the "fps" field of {"cmd":"status"},
             sampled every second); 0 when there is no source
  fps_min    the lowest of those
  sources    how many sources fps is taken over
  media_s    seconds of media in the segments that appeared in the
             --playlist files during the window (EXTINF sums; a segment
             counts when a playlist lists it first)
  playlists  how many of the --playlist files could be read at the end
  speed      seconds of media segmented per second, from those playlists:
             the segments after the first new one in each, over the time
             from when that first one appeared to when the last one did,
             summed over the playlists (1.00 = real time; 0 when no
             playlist had two new segments); finer than media_s / wall_s,
             which moves by a whole segment
"""

import argparse
import json
import os
import re
import socket
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_of(pid):
    """(ppid, utime + stime in ticks) of PID, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    rest = data[data.rindex(b")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def group(roots):
    """The PIDs of ROOTS and of their descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = stat_of(int(name))
        if st is not None:
            children.setdefault(st[0], []).append(int(name))
    seen = set()
    todo = [r for r in roots if os.path.exists("/proc/%d" % r)]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return seen


def kib_field(path, key):
    """KEY's value in kB from a /proc file of "Key:  N kB" lines."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def progress_frames(path):
    """(frame, time) of the last complete block of an ffmpeg -progress
    file, or None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    end = data.rfind(b"progress=")
    if end < 0:
        return None
    frames = re.findall(rb"^frame=(\d+)", data[:end], re.M)
    if not frames:
        return None
    return int(frames[-1]), time.monotonic()


class Playlist:
    """The segments of one HLS playlist seen so far."""

    def __init__(self, path):
        self.path = path
        self.top = None         # highest media sequence number seen
        self.media = 0.0        # seconds of segments new since the start
        self.first = None       # when the first new segment was seen
        self.last = None        # when the latest new segment was seen
        self.after = 0.0        # seconds of new segments after the first
        self.ok = False

    def poll(self, count):
        try:
            with open(self.path) as f:
                text = f.read()
        except OSError:
            self.ok = False
            return
        seq = 0
        durs = []
        for line in text.splitlines():
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                seq = int(line.split(":", 1)[1])
            elif line.startswith("#EXTINF:"):
                durs.append(float(line[8:].split(",")[0]))
        self.ok = True
        now = time.monotonic()
        for i, d in enumerate(durs):
            n = seq + i
            if self.top is None or n > self.top:
                if count and self.top is not None:
                    self.media += d
                    if self.first is None:
                        self.first = now
                    else:
                        self.after += d
                        self.last = now
                self.top = n
        if self.top is None:
            self.top = -1


class Status:
    """fps samples of streamd's pipelines through the control socket."""

    def __init__(self, path):
        self.path = path
        self.samples = {}

    def poll(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(self.path)
            s.sendall(b'{"cmd":"status"}\n')
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            s.close()
            reply = json.loads(buf.split(b"\n")[0])
        except (OSError, ValueError):
            return
        for p in reply.get("pipelines", []):
            if p.get("state") != "running":
                continue
            key = (p.get("stream"), p.get("variant", ""))
            self.samples.setdefault(key, []).append(float(p.get("fps", 0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-w", "--window", type=float, required=True)
    ap.add_argument("-s", "--socket")
    ap.add_argument("--progress", action="append", default=[])
    ap.add_argument("--playlist", action="append", default=[])
    ap.add_argument("pids", type=int, nargs="+")
    args = ap.parse_args()

    playlists = [Playlist(p) for p in args.playlist]
    status = Status(args.socket) if args.socket else None
    for pl in playlists:
        pl.poll(False)
    prog0 = {p: progress_frames(p) for p in args.progress}

    t0 = time.monotonic()
    cpu0 = {}
    for pid in group(args.pids):
        st = stat_of(pid)
        if st is not None:
            cpu0[pid] = st[1]
    last = dict(cpu0)
    deadline = t0 + args.window
    next_group = t0 + 1
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(0.5, deadline - now))
        for pl in playlists:
            pl.poll(True)
        if time.monotonic() >= next_group:
            next_group += 1
            if status is not None:
                status.poll()
            for pid in group(args.pids):
                st = stat_of(pid)
                if st is None:
                    continue
                if pid not in cpu0:
                    cpu0[pid] = st[1]
                last[pid] = st[1]
    cpu = 0
    alive = 0
    lost = 0
    pss = 0
    rss = 0
    anon = 0
    for pid in cpu0:
        st = stat_of(pid)
        if st is None:
            lost += 1
            cpu += last[pid] - cpu0[pid]
            continue
        alive += 1
        cpu += st[1] - cpu0[pid]
        pss += kib_field("/proc/%d/smaps_rollup" % pid, "Pss")
        rss += kib_field("/proc/%d/status" % pid, "VmRSS")
        anon += kib_field("/proc/%d/smaps_rollup" % pid, "Anonymous")
    wall = time.monotonic() - t0
    for pl in playlists:
        pl.poll(True)

    rates = []
    for p in args.progress:
        a, b = prog0.get(p), progress_frames(p)
        if a is None or b is None or b[1] <= a[1]:
            rates.append(0.0)
        else:
            rates.append((b[0] - a[0]) / (b[1] - a[1]))
    if status is not None:
        for samples in status.samples.values():
            rates.append(sum(samples) / len(samples))

    print("wall_s=%.2f" % wall)
    print("cpu_s=%.2f" % (cpu / TICK))
    print("procs=%d" % alive)
    print("lost=%d" % lost)
    print("pss_mib=%.1f" % (pss / 1024))
    print("rss_mib=%.1f" % (rss / 1024))
    print("anon_mib=%.1f" % (anon / 1024))
    print("fps=%.2f" % (sum(rates) / len(rates) if rates else 0))
    print("fps_min=%.2f" % (min(rates) if rates else 0))
    print("sources=%d" % len(rates))
    print("media_s=%.1f" % sum(pl.media for pl in playlists))
    print("playlists=%d" % sum(1 for pl in playlists if pl.ok))
    span = sum(pl.last - pl.first for pl in playlists if pl.last)
    print("speed=%.2f" % (sum(pl.after for pl in playlists if pl.last) /
                          span if span > 0 else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
