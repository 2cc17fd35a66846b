#!/usr/bin/env python3
"""Checks an HLS playlist against RFC 8216 (and the low-latency tags of
RFC 8216bis), or a DASH manifest, for the black-box tests.  Python 3
standard library only.

usage: hlscheck.py [options] PLAYLIST
       hlscheck.py --align [--tolerance T] [--min-common N] PLAYLIST...
       hlscheck.py --mpd [--no-files] [--min-segments N] [--tolerance T] MPD

Always checked: UTF-8 without BOM or control characters, #EXTM3U first,
a newline at the end, tags that may appear once appear once, master and
media tags not mixed; in a media playlist EXT-X-TARGETDURATION (a
decimal integer) and EXT-X-MEDIA-SEQUENCE (before the first segment),
every EXTINF followed by a URI and, rounded to the nearest integer, not
above the target duration, EXT-X-VERSION high enough for what is used
(3: decimal durations, 4: byte ranges, 6: EXT-X-MAP), EXT-X-PART only
with EXT-X-PART-INF, no part longer than PART-TARGET, EXT-X-SERVER-CONTROL
with a PART-HOLD-BACK of at least twice PART-TARGET, a HOLD-BACK of at
least three target durations; in a master playlist a BANDWIDTH and a
URI for every EXT-X-STREAM-INF, RESOLUTION as WxH, CODECS quoted.

Prints what it found as NAME=VALUE lines on standard output: type,
version; for a media playlist target_duration, media_sequence,
discontinuity_sequence, segments, uris, first_uri, last_uri, durations,
seq_durations (SEQ:DURATION), max_duration, discontinuities,
discontinuity_seqs (the media sequence numbers of the segments after an
EXT-X-DISCONTINUITY), endlist, map, parts, part_uris, part_target,
preload_hint; for a master playlist variants and variant.I.uri,
.bandwidth, .resolution, .codecs.  Every problem goes to standard error
as "hlscheck: FILE:LINE: text"; the exit status is 1 when there is one,
else 0.

  --no-files               do not check that the URIs exist (by default
                           every segment, part, map and variant URI that
                           is a relative path must be a non-empty file
                           beside the playlist)
  --endlist / --live       EXT-X-ENDLIST must be there / must not be
  --ll                     the low-latency tags must be there:
                           EXT-X-PART-INF, EXT-X-SERVER-CONTROL (with
                           PART-HOLD-BACK), EXT-X-PART, EXT-X-PRELOAD-HINT
  --fmp4                   EXT-X-MAP must be there
  --master                 it must be a master playlist
  --min-segments N         at least N media segments
  --segment-duration D     every segment lasts D s within --tolerance
                           (default 0.3), except one followed by a
                           discontinuity or by EXT-X-ENDLIST
  --align                  the playlists are renditions of one stream:
                           segments with the same media sequence number
                           last the same within --tolerance (default
                           0.1), and at least --min-common (default 2)
                           numbers are in every playlist; prints common,
                           last_common (the newest such number) and
                           last_common_paths (its segment in each)
  --mpd                    the file is a DASH manifest (ISO/IEC 23009-1):
                           an MPD root; every SegmentTemplate's
                           initialization and listed media segments exist;
                           in a dynamic MPD, every listed segment is
                           available by publishTime (within --tolerance,
                           default 2 s, for the 1.4 s that MPEG-TS
                           timestamps start at and the write delay):
                           availabilityStartTime +
                           Period@start + (S@t + S@d -
                           presentationTimeOffset) / timescale; a
                           timeShiftBufferDepth no shorter than a segment;
                           with --min-segments, no SegmentTimeline is empty;
                           prints type, representations, segments, and
                           "rep=ID KIND INIT FIRST" for each Representation
                           with a SegmentTimeline (KIND: video, audio...;
                           the paths of its initialization and of its
                           first listed segment)
"""

import argparse
import datetime
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

MASTER_TAGS = {"EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF", "EXT-X-MEDIA",
               "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY"}
MEDIA_TAGS = {"EXTINF", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
              "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST",
              "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY", "EXT-X-BYTERANGE",
              "EXT-X-DISCONTINUITY", "EXT-X-KEY", "EXT-X-MAP",
              "EXT-X-PROGRAM-DATE-TIME", "EXT-X-DATERANGE", "EXT-X-PART",
              "EXT-X-PART-INF", "EXT-X-SERVER-CONTROL", "EXT-X-PRELOAD-HINT",
              "EXT-X-SKIP", "EXT-X-RENDITION-REPORT", "EXT-X-GAP",
              "EXT-X-BITRATE"}
# Tags that may appear once at most.
ONCE = {"EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST", "EXT-X-PLAYLIST-TYPE",
        "EXT-X-I-FRAMES-ONLY", "EXT-X-PART-INF", "EXT-X-SERVER-CONTROL",
        "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START"}
DECIMAL_INT = re.compile(r"^[0-9]{1,20}$")
DECIMAL_FLOAT = re.compile(r"^[0-9]+(\.[0-9]*)?$")
RESOLUTION = re.compile(r"^[0-9]+x[0-9]+$")
ATTR = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(,|$)')


class Checker:
    def __init__(self, path):
        self.path = path
        self.problems = []

    def problem(self, lineno, text):
        self.problems.append("hlscheck: %s:%s: %s" % (self.path, lineno,
                                                      text))


def attributes(chk, lineno, text):
    """An attribute-list (RFC 8216 4.2) as a dict; quoted values keep
    their quotes so that the type can be checked."""
    attrs = {}
    pos = 0
    while pos < len(text):
        m = ATTR.match(text, pos)
        if not m:
            chk.problem(lineno, "bad attribute list at %r" % text[pos:])
            break
        if m.group(1) in attrs:
            chk.problem(lineno, "attribute %s given twice" % m.group(1))
        attrs[m.group(1)] = m.group(2)
        pos = m.end()
    return attrs


def unquote(chk, lineno, attrs, name, required=False):
    v = attrs.get(name)
    if v is None:
        if required:
            chk.problem(lineno, "no %s attribute" % name)
        return None
    if len(v) < 2 or v[0] != '"' or v[-1] != '"':
        chk.problem(lineno, "%s must be a quoted string" % name)
        return v
    return v[1:-1]


def number(chk, lineno, attrs, name, required=False):
    v = attrs.get(name)
    if v is None:
        if required:
            chk.problem(lineno, "no %s attribute" % name)
        return None
    if not DECIMAL_FLOAT.match(v):
        chk.problem(lineno, "%s=%s is not a decimal number" % (name, v))
        return None
    return float(v)


def check_file(chk, lineno, base, uri, what):
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) or uri.startswith("/"):
        return
    path = os.path.join(base, uri.split("?", 1)[0])
    try:
        size = os.path.getsize(path)
    except OSError:
        chk.problem(lineno, "%s %s does not exist" % (what, uri))
        return
    if size == 0:
        chk.problem(lineno, "%s %s is empty" % (what, uri))


def parse(path, files=True):
    """Reads and checks one playlist; returns (checker, summary dict)."""
    chk = Checker(path)
    info = {"type": None, "version": 1, "target_duration": None,
            "media_sequence": None, "discontinuity_sequence": 0,
            "segments": [], "discontinuities": 0, "endlist": 0, "map": None,
            "parts": [], "part_target": None, "part_hold_back": None,
            "server_control": None, "preload_hint": None, "variants": [],
            "floats": False, "byterange": False, "iframes": False}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        chk.problem(0, str(e))
        return chk, info
    if data.startswith(b"\xef\xbb\xbf"):
        chk.problem(1, "byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        chk.problem(0, "not UTF-8: %s" % e)
        return chk, info
    if re.search(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]", text):
        chk.problem(0, "control characters")
    if text and not text.endswith("\n"):
        # A playlist written in place and read half way ends anywhere.
        chk.problem(0, "no newline at the end (written in place?)")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l[:-1] if l.endswith("\r") else l for l in lines]
    if not lines or lines[0] != "#EXTM3U":
        chk.problem(1, "the first line is not #EXTM3U")
        return chk, info

    base = os.path.dirname(path)
    seen = {}
    kinds = set()
    pending = None          # the EXTINF waiting for its URI
    pending_tags = []       # segment tags waiting for their URI
    stream_inf = None
    first_segment_line = None
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.startswith("#"):
            if not line.startswith("#EXT"):
                continue            # a comment
            name, _, value = line[1:].partition(":")
            if name in ONCE:
                if name in seen:
                    chk.problem(lineno, "%s given twice (line %d)" %
                                (name, seen[name]))
                seen[name] = lineno
            if name in MASTER_TAGS:
                kinds.add("master")
            elif name in MEDIA_TAGS:
                kinds.add("media")
            if name == "EXTM3U":
                chk.problem(lineno, "#EXTM3U again")
            elif name == "EXT-X-VERSION":
                if not DECIMAL_INT.match(value):
                    chk.problem(lineno, "bad EXT-X-VERSION %r" % value)
                else:
                    info["version"] = int(value)
            elif name == "EXT-X-TARGETDURATION":
                if not DECIMAL_INT.match(value):
                    chk.problem(lineno, "EXT-X-TARGETDURATION %r is not a "
                                "decimal integer" % value)
                else:
                    info["target_duration"] = int(value)
            elif name in ("EXT-X-MEDIA-SEQUENCE",
                          "EXT-X-DISCONTINUITY-SEQUENCE"):
                if first_segment_line is not None:
                    chk.problem(lineno, "%s after the first segment" % name)
                if not DECIMAL_INT.match(value):
                    chk.problem(lineno, "%s %r is not a decimal integer" %
                                (name, value))
                elif name == "EXT-X-MEDIA-SEQUENCE":
                    info["media_sequence"] = int(value)
                else:
                    info["discontinuity_sequence"] = int(value)
            elif name == "EXTINF":
                if pending is not None:
                    chk.problem(lineno, "EXTINF without a URI after line %d"
                                % pending[0])
                dur, comma, _ = value.partition(",")
                if not comma:
                    chk.problem(lineno, "EXTINF without a comma")
                if not DECIMAL_FLOAT.match(dur):
                    chk.problem(lineno, "EXTINF duration %r" % dur)
                    dur = "0"
                if "." in dur:
                    info["floats"] = True
                pending = (lineno, float(dur))
                if first_segment_line is None:
                    first_segment_line = lineno
            elif name == "EXT-X-DISCONTINUITY":
                info["discontinuities"] += 1
                pending_tags.append("discontinuity")
                if first_segment_line is None:
                    first_segment_line = lineno
            elif name == "EXT-X-BYTERANGE":
                info["byterange"] = True
            elif name == "EXT-X-I-FRAMES-ONLY":
                info["iframes"] = True
            elif name == "EXT-X-ENDLIST":
                info["endlist"] = 1
            elif name == "EXT-X-MAP":
                a = attributes(chk, lineno, value)
                uri = unquote(chk, lineno, a, "URI", True)
                if uri is not None:
                    info["map"] = uri
                    if files:
                        check_file(chk, lineno, base, uri, "EXT-X-MAP URI")
            elif name == "EXT-X-PART-INF":
                a = attributes(chk, lineno, value)
                info["part_target"] = number(chk, lineno, a, "PART-TARGET",
                                             True)
            elif name == "EXT-X-SERVER-CONTROL":
                a = attributes(chk, lineno, value)
                info["server_control"] = lineno
                info["part_hold_back"] = number(chk, lineno, a,
                                                "PART-HOLD-BACK")
                hb = number(chk, lineno, a, "HOLD-BACK")
                info["hold_back"] = (lineno, hb)
            elif name == "EXT-X-PART":
                a = attributes(chk, lineno, value)
                d = number(chk, lineno, a, "DURATION", True)
                uri = unquote(chk, lineno, a, "URI", True)
                info["parts"].append((lineno, d, uri))
                if uri is not None and files:
                    check_file(chk, lineno, base, uri, "part")
            elif name == "EXT-X-PRELOAD-HINT":
                a = attributes(chk, lineno, value)
                t = a.get("TYPE")
                if t not in ("PART", "MAP"):
                    chk.problem(lineno, "PRELOAD-HINT TYPE %r" % t)
                uri = unquote(chk, lineno, a, "URI", True)
                info["preload_hint"] = uri
            elif name == "EXT-X-STREAM-INF":
                a = attributes(chk, lineno, value)
                v = {"bandwidth": a.get("BANDWIDTH"),
                     "resolution": a.get("RESOLUTION"),
                     "codecs": unquote(chk, lineno, a, "CODECS"),
                     "line": lineno}
                if v["bandwidth"] is None:
                    chk.problem(lineno, "EXT-X-STREAM-INF without BANDWIDTH")
                elif not DECIMAL_INT.match(v["bandwidth"]):
                    chk.problem(lineno, "BANDWIDTH %r" % v["bandwidth"])
                if v["resolution"] is not None and \
                        not RESOLUTION.match(v["resolution"]):
                    chk.problem(lineno, "RESOLUTION %r" % v["resolution"])
                if stream_inf is not None:
                    chk.problem(lineno, "EXT-X-STREAM-INF without a URI "
                                "after line %d" % stream_inf["line"])
                stream_inf = v
            continue
        # A URI line.
        uri = line.strip()
        if stream_inf is not None:
            stream_inf["uri"] = uri
            info["variants"].append(stream_inf)
            if files:
                check_file(chk, lineno, base, uri, "variant")
            stream_inf = None
            continue
        if pending is None:
            chk.problem(lineno, "URI %s without EXTINF" % uri)
            continue
        seg = {"uri": uri, "duration": pending[1], "line": pending[0],
               "discontinuity": "discontinuity" in pending_tags}
        info["segments"].append(seg)
        if files:
            check_file(chk, lineno, base, uri, "segment")
        pending = None
        pending_tags = []
    if pending is not None:
        chk.problem(pending[0], "EXTINF without a URI at the end")
    if stream_inf is not None:
        chk.problem(stream_inf["line"], "EXT-X-STREAM-INF without a URI")

    if "master" in kinds and "media" in kinds:
        chk.problem(0, "both master and media playlist tags")
    info["type"] = "master" if "master" in kinds else "media"
    if info["type"] == "media":
        check_media(chk, info)
    return chk, info


def check_media(chk, info):
    td = info["target_duration"]
    if td is None:
        chk.problem(0, "no EXT-X-TARGETDURATION")
    if info["media_sequence"] is None:
        chk.problem(0, "no EXT-X-MEDIA-SEQUENCE")
    for seg in info["segments"]:
        # RFC 8216 4.3.3.1: rounded to the nearest integer.
        if td is not None and math.floor(seg["duration"] + 0.5) > td:
            chk.problem(seg["line"], "EXTINF %g longer than "
                        "EXT-X-TARGETDURATION %d" % (seg["duration"], td))
    v = info["version"]
    if info["floats"] and v < 3:
        chk.problem(0, "decimal EXTINF durations need EXT-X-VERSION 3, "
                    "not %d" % v)
    if info["byterange"] and v < 4:
        chk.problem(0, "EXT-X-BYTERANGE needs EXT-X-VERSION 4")
    if info["map"] is not None and v < (5 if info["iframes"] else 6):
        chk.problem(0, "EXT-X-MAP needs EXT-X-VERSION 6, not %d" % v)
    pt = info["part_target"]
    if info["parts"] and pt is None:
        chk.problem(0, "EXT-X-PART without EXT-X-PART-INF")
    if pt is not None:
        for lineno, d, _ in info["parts"]:
            if d is not None and d > pt + 0.0005:
                chk.problem(lineno, "part DURATION %g above PART-TARGET %g"
                            % (d, pt))
        if info["server_control"] is None:
            chk.problem(0, "EXT-X-PART-INF without EXT-X-SERVER-CONTROL")
        elif info["part_hold_back"] is None:
            chk.problem(info["server_control"], "no PART-HOLD-BACK with "
                        "EXT-X-PART-INF")
        elif info["part_hold_back"] < 2 * pt:
            chk.problem(info["server_control"], "PART-HOLD-BACK %g below "
                        "twice PART-TARGET %g" % (info["part_hold_back"], pt))
    hb = info.get("hold_back")
    if hb and hb[1] is not None and td is not None and hb[1] < 3 * td:
        chk.problem(hb[0], "HOLD-BACK %g below three target durations" %
                    hb[1])


def summary(info):
    out = ["type=%s" % info["type"], "version=%d" % info["version"]]
    if info["type"] == "master":
        out.append("variants=%d" % len(info["variants"]))
        for i, v in enumerate(info["variants"]):
            for k in ("uri", "bandwidth", "resolution", "codecs"):
                out.append("variant.%d.%s=%s" % (i, k, v.get(k) or ""))
        return out
    segs = info["segments"]
    seq = info["media_sequence"] or 0
    out += ["target_duration=%s" % info["target_duration"],
            "media_sequence=%s" % info["media_sequence"],
            "discontinuity_sequence=%d" % info["discontinuity_sequence"],
            "segments=%d" % len(segs),
            "uris=%s" % " ".join(s["uri"] for s in segs),
            "first_uri=%s" % (segs[0]["uri"] if segs else ""),
            "last_uri=%s" % (segs[-1]["uri"] if segs else ""),
            "durations=%s" % " ".join("%.3f" % s["duration"] for s in segs),
            "seq_durations=%s" % " ".join("%d:%.3f" % (seq + i,
                                                        s["duration"])
                                          for i, s in enumerate(segs)),
            "max_duration=%.3f" % max([s["duration"] for s in segs] + [0]),
            "discontinuities=%d" % info["discontinuities"],
            "discontinuity_seqs=%s" % " ".join(
                "%d" % (seq + i) for i, s in enumerate(segs)
                if s["discontinuity"]),
            "endlist=%d" % info["endlist"],
            "map=%s" % (info["map"] or ""),
            "parts=%d" % len(info["parts"]),
            "part_uris=%s" % " ".join(p[2] or "" for p in info["parts"]),
            "part_target=%s" % ("" if info["part_target"] is None
                                else "%g" % info["part_target"]),
            "preload_hint=%s" % (info["preload_hint"] or "")]
    return out


def check_options(chk, info, args):
    if args.master and info["type"] != "master":
        chk.problem(0, "not a master playlist")
        return
    if info["type"] == "master":
        if not info["variants"]:
            chk.problem(0, "a master playlist without variants")
        return
    segs = info["segments"]
    if args.endlist and not info["endlist"]:
        chk.problem(0, "no EXT-X-ENDLIST")
    if args.live and info["endlist"]:
        chk.problem(0, "EXT-X-ENDLIST in a live playlist")
    if len(segs) < args.min_segments:
        chk.problem(0, "%d segments, expected at least %d" %
                    (len(segs), args.min_segments))
    if args.fmp4 and info["map"] is None:
        chk.problem(0, "no EXT-X-MAP")
    if args.ll:
        if info["part_target"] is None:
            chk.problem(0, "no EXT-X-PART-INF")
        if info["server_control"] is None:
            chk.problem(0, "no EXT-X-SERVER-CONTROL")
        if not info["parts"]:
            chk.problem(0, "no EXT-X-PART")
        if info["preload_hint"] is None:
            chk.problem(0, "no EXT-X-PRELOAD-HINT")
    if args.segment_duration is not None:
        d = args.segment_duration
        tol = 0.3 if args.tolerance is None else args.tolerance
        for i, s in enumerate(segs):
            last = i + 1 == len(segs)
            if (last and info["endlist"]) or \
                    (not last and segs[i + 1]["discontinuity"]):
                continue
            if abs(s["duration"] - d) > tol:
                chk.problem(s["line"], "segment %s lasts %g s, not %g" %
                            (s["uri"], s["duration"], d))


def align(paths, args):
    tol = 0.1 if args.tolerance is None else args.tolerance
    maps = []
    uris = []
    bad = False
    for p in paths:
        chk, info = parse(p, files=False)
        for line in chk.problems:
            print(line, file=sys.stderr)
            bad = True
        seq = info["media_sequence"] or 0
        maps.append({seq + i: s["duration"]
                     for i, s in enumerate(info["segments"])})
        uris.append({seq + i: os.path.join(os.path.dirname(p), s["uri"])
                     for i, s in enumerate(info["segments"])})
    common = set(maps[0])
    for m in maps[1:]:
        common &= set(m)
    print("common=%d" % len(common))
    if common:
        last = max(common)
        print("last_common=%d" % last)
        print("last_common_paths=%s" % " ".join(u[last] for u in uris))
    if len(common) < args.min_common:
        print("hlscheck: %d media sequence numbers in common, expected at "
              "least %d: %s" % (len(common), args.min_common,
                                " ".join("%s:%s" % (p, sorted(m))
                                         for p, m in zip(paths, maps))),
              file=sys.stderr)
        bad = True
    for n in sorted(common):
        ds = [m[n] for m in maps]
        if max(ds) - min(ds) > tol:
            print("hlscheck: segment %d lasts %s in %s" %
                  (n, " / ".join("%g" % d for d in ds), " / ".join(paths)),
                  file=sys.stderr)
            bad = True
    return 1 if bad else 0


def iso_time(chk, text, what):
    try:
        return datetime.datetime.fromisoformat(
            text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        chk.problem(0, "%s %r is not an ISO 8601 time" % (what, text))
        return None


def iso_duration(chk, text, what):
    m = re.match(r"^P(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?"
                 r"(?:([0-9.]+)S)?)?$", text or "")
    if not m or text in ("P", "PT"):
        chk.problem(0, "%s %r is not an ISO 8601 duration" % (what, text))
        return 0.0
    d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + sec


def template_url(tmpl, rep_id, bandwidth, number=None, time=None):
    def repl(m):
        name, fmt = m.group(1), m.group(2)
        if name == "":
            return "$"
        val = {"RepresentationID": rep_id, "Bandwidth": bandwidth,
               "Number": number, "Time": time}.get(name)
        if val is None:
            return m.group(0)
        if fmt:
            return ("%" + fmt[1:]) % int(val)
        return str(val)
    return re.sub(r"\$([A-Za-z]*)(%0[0-9]+d)?\$", repl, tmpl)


def check_mpd(path, args):
    chk = Checker(path)
    tol = 2.0 if args.tolerance is None else args.tolerance
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        chk.problem(0, str(e))
        return chk, []
    def local(el):
        return el.tag.rsplit("}", 1)[-1]
    def kids(el, name):
        return [c for c in el if local(c) == name]
    if local(root) != "MPD":
        chk.problem(0, "the root is %s, not MPD" % local(root))
        return chk, []
    mtype = root.get("type", "static")
    ast = publish = None
    if mtype == "dynamic":
        ast = iso_time(chk, root.get("availabilityStartTime"),
                       "availabilityStartTime")
        if root.get("publishTime") is None:
            publish = os.path.getmtime(path)
        else:
            publish = iso_time(chk, root.get("publishTime"), "publishTime")
    tsbd = None
    if mtype == "dynamic" and root.get("timeShiftBufferDepth") is not None:
        tsbd = iso_duration(chk, root.get("timeShiftBufferDepth"),
                            "timeShiftBufferDepth")
    base = os.path.dirname(path)
    nrep = nseg = 0
    reps = []
    for period in kids(root, "Period"):
        pstart = iso_duration(chk, period.get("start", "PT0S"),
                              "Period@start")
        for aset in kids(period, "AdaptationSet"):
            for rep in kids(aset, "Representation"):
                nrep += 1
                rid = rep.get("id")
                if rid is None:
                    chk.problem(0, "a Representation without id")
                    continue
                tmpl = (kids(rep, "SegmentTemplate") or
                        kids(aset, "SegmentTemplate") or [None])[0]
                if tmpl is None:
                    continue
                bw = rep.get("bandwidth")
                init = tmpl.get("initialization")
                kind = (rep.get("mimeType") or aset.get("mimeType") or
                        aset.get("contentType") or "?").split("/")[0]
                if init and not args.no_files:
                    check_file(chk, 0, base,
                               template_url(init, rid, bw), "initialization")
                media = tmpl.get("media")
                scale = int(tmpl.get("timescale", "1"))
                pto = int(tmpl.get("presentationTimeOffset", "0"))
                number = int(tmpl.get("startNumber", "1"))
                tl = (kids(tmpl, "SegmentTimeline") or [None])[0]
                if tl is None:
                    continue
                if len(kids(tl, "S")) == 0 and args.min_segments > 0:
                    chk.problem(0, "Representation %s lists no segment" %
                                rid)
                t = 0
                first = None
                for sel in kids(tl, "S"):
                    if sel.get("t") is not None:
                        t = int(sel.get("t"))
                    d = int(sel.get("d"))
                    r = int(sel.get("r", "0"))
                    if r < 0:
                        chk.problem(0, "S@r %d not checked" % r)
                        r = 0
                    for _ in range(r + 1):
                        nseg += 1
                        url = template_url(media, rid, bw, number, t)
                        if first is None:
                            first = url
                        if not args.no_files:
                            check_file(chk, 0, base, url, "segment")
                        if ast is not None and publish is not None:
                            avail = ast + pstart + (t + d - pto) / scale
                            if avail > publish + tol:
                                chk.problem(0, "segment %s (t=%d d=%d, "
                                            "timescale %d) is listed %.3f s "
                                            "before it can be available "
                                            "(availabilityStartTime + end "
                                            "time > publishTime)" %
                                            (url, t, d, scale,
                                             avail - publish))
                        if tsbd is not None and d / scale > tsbd + 0.001:
                            chk.problem(0, "timeShiftBufferDepth %gs is "
                                        "shorter than segment %s (%gs): "
                                        "no segment is in the window" %
                                        (tsbd, url, d / scale))
                            tsbd = None     # said once
                        t += d
                        number += 1
                reps.append("rep=%s %s %s %s" % (
                    rid, kind,
                    os.path.join(base, template_url(init or "", rid, bw)),
                    os.path.join(base, first) if first else ""))
    return chk, ["type=%s" % mtype, "representations=%d" % nrep,
                 "segments=%d" % nseg] + reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-files", action="store_true")
    ap.add_argument("--endlist", action="store_true")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--ll", action="store_true")
    ap.add_argument("--fmp4", action="store_true")
    ap.add_argument("--master", action="store_true")
    ap.add_argument("--min-segments", type=int, default=0)
    ap.add_argument("--segment-duration", type=float)
    ap.add_argument("--tolerance", type=float)
    ap.add_argument("--align", action="store_true")
    ap.add_argument("--min-common", type=int, default=2)
    ap.add_argument("--mpd", action="store_true")
    ap.add_argument("playlists", nargs="+")
    args = ap.parse_args()
    if args.align:
        if len(args.playlists) < 2:
            ap.error("--align needs two playlists or more")
        return align(args.playlists, args)
    if len(args.playlists) != 1:
        ap.error("one playlist")
    if args.mpd:
        chk, out = check_mpd(args.playlists[0], args)
        print("\n".join(out))
        for line in chk.problems:
            print(line, file=sys.stderr)
        return 1 if chk.problems else 0
    chk, info = parse(args.playlists[0], files=not args.no_files)
    if info["type"] is not None:
        check_options(chk, info, args)
        print("\n".join(summary(info)))
    for line in chk.problems:
        print(line, file=sys.stderr)
    return 1 if chk.problems else 0


if __name__ == "__main__":
    sys.exit(main())
