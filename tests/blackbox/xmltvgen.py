#!/usr/bin/env python3
"""Generates XMLTV guides (and the amps streams that match them) for the
guide ingestion tests and benchmark (G3).

  xmltvgen.py guide [--channels N] [--programmes M] [--start YYYYMMDD]
                    [--id-format FMT] [--gzip] [-o FILE]
      A guide: N <channel>s with ids FMT % i (default "ch%d.amps") and
      display-names "Channel i", then M <programme>s per channel, half an
      hour each, with every element amps stores (title, sub-title, desc,
      categories, icon, episode-num in xmltv_ns and onscreen) and some it
      does not (credits, rating).  About 780 bytes per programme: 1,000 x
      100 is about 78 MB.  Deterministic.

  xmltvgen.py streams [--channels N] [--first ID] [--id-format FMT]
      amps.conf stream entries (libconfig) for the same channels, with
      epg_id FMT % i and tvg_name "Channel i", to paste into streams = (...).

  xmltvgen.py serve --dir DIR --port-file FILE --log FILE
      An HTTP origin on a free loopback port (written to FILE) for the
      black-box test: /NAME serves DIR/NAME with an ETag (its SHA-256) and
      a Last-Modified, gzip as Content-Encoding when the client accepts
      it, and 304 for a matching If-None-Match or If-Modified-Since;
      /raw/NAME the same bytes without Content-Encoding (a .gz body
      stays gzip); /slow/NAME sends a byte a second; /huge sends an
      endless guide; anything else is 404.  Each request is one JSON
      line in the log: path, If-None-Match, If-Modified-Since,
      Accept-Encoding, the status.
"""

import argparse
import gzip
import hashlib
import http.server
import io
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime

DESC = ("A programme about things that happen, told at length so that the "
        "guide weighs what real guides weigh. Episode %d of a series, "
        "with the usual cast & crew and <markup> to escape.")


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def guide(out, channels, programmes, start, idfmt):
    w = out.write
    w('<?xml version="1.0" encoding="UTF-8"?>\n'
      '<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'
      '<tv generator-info-name="xmltvgen.py">\n')
    for i in range(1, channels + 1):
        w('  <channel id="%s">\n'
          '    <display-name>Channel %d</display-name>\n'
          '    <icon src="http://logos.example/%d.png"/>\n'
          '  </channel>\n' % (esc(idfmt % i), i, i))
    t0 = datetime.strptime(start, "%Y%m%d").replace(tzinfo=timezone.utc)
    for i in range(1, channels + 1):
        cid = esc(idfmt % i)
        for k in range(programmes):
            a = t0 + timedelta(minutes=30 * k)
            b = a + timedelta(minutes=30)
            w('  <programme start="%s +0000" stop="%s +0000" channel="%s">\n'
              '    <title lang="en">Show %d on %d</title>\n'
              '    <sub-title lang="en">Part %d</sub-title>\n'
              '    <desc lang="en">%s</desc>\n'
              '    <credits><director>Someone %d</director>'
              '<actor>Anyone</actor></credits>\n'
              '    <category lang="en">Category %d</category>\n'
              '    <category lang="en">Genre &amp; more</category>\n'
              '    <icon src="http://img.example/%d/%d.jpg"/>\n'
              '    <episode-num system="xmltv_ns">%d.%d.0/1</episode-num>\n'
              '    <episode-num system="onscreen">S%02dE%02d</episode-num>\n'
              '    <rating system="VCHIP"><value>TV-G</value></rating>\n'
              '  </programme>\n'
              % (a.strftime("%Y%m%d%H%M%S"), b.strftime("%Y%m%d%H%M%S"),
                 cid, k, i, k % 7 + 1, esc(DESC % k), k % 13, k % 5, i, k,
                 k // 10, k % 10, k // 10 + 1, k % 10 + 1))
    w('</tv>\n')


def streams(out, channels, first, idfmt):
    for i in range(1, channels + 1):
        out.write('  { id = %d; name = "Channel %d"; source = '
                  '"udp://239.1.%d.%d:1234"; ffmpeg_profile = "copy"; '
                  'epg_id = "%s"; tvg_name = "Channel %d"; }%s\n'
                  % (first + i - 1, i, i // 256, i % 256, idfmt % i, i,
                     "," if i < channels else ""))


class Origin(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    log = None
    mtime = 1893456000  # 2030-01-01

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        with open(self.log, "a") as f:
            f.write(json.dumps({
                "path": self.path,
                "inm": self.headers.get("If-None-Match"),
                "ims": self.headers.get("If-Modified-Since"),
                "ae": self.headers.get("Accept-Encoding"),
                "status": status}) + "\n")

    def reply(self, status, headers, body=b""):
        self.note(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path == "/huge":
            self.note(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(b'<?xml version="1.0"?>\n<tv>\n')
                chunk = (b'<programme start="20300101000000" '
                         b'channel="none"><title>x</title></programme>\n'
                         * 1000)
                while True:
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        slow = path.startswith("/slow/")
        raw = path.startswith("/raw/")
        name = path.split("/")[-1]
        f = os.path.join(self.root, name)
        if not name or not os.path.isfile(f):
            self.reply(404, [("Content-Type", "text/plain")], b"no\n")
            return
        with open(f, "rb") as fh:
            body = fh.read()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        lm = formatdate(self.mtime, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = etag in [t.strip() for t in inm.split(",")]
        elif ims is not None:
            try:
                fresh = parsedate_to_datetime(ims).timestamp() >= self.mtime
            except (TypeError, ValueError):
                fresh = False
        hdrs = [("ETag", etag), ("Last-Modified", lm)]
        if fresh:
            self.reply(304, hdrs)
            return
        ctype = "application/gzip" if name.endswith(".gz") else \
            "application/xml"
        hdrs.append(("Content-Type", ctype))
        if not raw and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, mtime=0)
            hdrs.append(("Content-Encoding", "gzip"))
        if slow:
            self.note(200)
            self.send_response(200)
            for k, v in hdrs:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            return
        self.reply(200, hdrs, body)


def serve(root, port_file, log):
    Origin.root = root
    Origin.log = log
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    srv.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("guide")
    g.add_argument("--channels", type=int, default=10)
    g.add_argument("--programmes", type=int, default=10)
    g.add_argument("--start", default="20300101")
    g.add_argument("--id-format", default="ch%d.amps")
    g.add_argument("--gzip", action="store_true")
    g.add_argument("-o", "--output", default="-")
    s = sub.add_parser("streams")
    s.add_argument("--channels", type=int, default=10)
    s.add_argument("--first", type=int, default=1)
    s.add_argument("--id-format", default="ch%d.amps")
    v = sub.add_parser("serve")
    v.add_argument("--dir", required=True)
    v.add_argument("--port-file", required=True)
    v.add_argument("--log", required=True)
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a.dir, a.port_file, a.log)
        return
    if a.cmd == "streams":
        streams(sys.stdout, a.channels, a.first, a.id_format)
        return
    raw = (sys.stdout.buffer if a.output == "-"
           else open(a.output, "wb"))
    if a.gzip:
        raw = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n",
                           write_through=False)
    guide(out, a.channels, a.programmes, a.start, a.id_format)
    out.flush()
    out.close()


if __name__ == "__main__":
    main()
