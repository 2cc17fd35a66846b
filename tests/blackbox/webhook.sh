# Webhooks (A5) end to end, with the real streamd and the real CLI:
# stream.started and stream.stopped from a channel that the test starts
# and stops, epg.refreshed from amps epg-refresh; a receiver
# (hookrecv.py) that records every request.  Two webhooks: "signed" with
# a secret and an event filter, "all" without either.  Checked: every
# signature verifies, the filter holds, each webhook gets its events once
# and in the order they were queued; with the receiver down the events
# stay queued and are retried, and they are all delivered once it is back,
# across a kill -9 of streamd too; /api/status shows the state.
# shellcheck source=tests/blackbox/lib.sh
. "$AMPS_TEST_SRCDIR/blackbox/lib.sh"
# shellcheck source=tests/blackbox/media.sh
. "$AMPS_TEST_SRCDIR/blackbox/media.sh"

cd "$TMPDIR_TEST" || fail "no scratch folder"
AV=$(media_av 12)
media_ok "$AV"
SOCK=$SOCKDIR/streamd.sock
RECV_PID=

# recv_start [PORT]: the receiver, in the background; PORT (default: any
# free one) in port.txt.
recv_start()
{
	rm -f port.txt
	python3 "$AMPS_TEST_SRCDIR/blackbox/hookrecv.py" --log hooks.jsonl \
	    --port-file port.txt ${1:+--port "$1"} 2>recv.err &
	RECV_PID=$!
	HOLD_PIDS="$HOLD_PIDS $RECV_PID"
	rs_n=0
	while [ ! -s port.txt ]; do
		kill -0 "$RECV_PID" 2>/dev/null ||
		    fail "the receiver did not start: $(cat recv.err)"
		rs_n=$((rs_n + 1))
		[ "$rs_n" -lt 100 ] || fail "the receiver did not start"
		sleep 0.1
	done
	PORT=$(cat port.txt)
}

recv_stop()
{
	kill "$RECV_PID" 2>/dev/null
	wait "$RECV_PID" 2>/dev/null
	RECV_PID=
}

# q SQL: one value from the database.
q()
{
	sqlite3 -cmd '.timeout 5000' amps.db "$1"
}

pending()
{
	q "SELECT count(*) FROM webhook_outbox WHERE delivered IS NULL AND
	    gave_up IS NULL"
}
none_pending() { [ "$(pending)" = 0 ]; }
# retried: a waiting row has been tried and failed more than once.
retried()
{
	[ "$(q "SELECT count(*) FROM webhook_outbox WHERE delivered IS NULL
	    AND attempts >= 2 AND last_error IS NOT NULL")" -gt 0 ]
}
# queued EVENT N: N rows of EVENT are in the outbox.
queued()
{
	[ "$(q "SELECT count(*) FROM webhook_outbox WHERE event = '$1'")" \
	    -ge "$2" ]
}
# received N: the receiver has recorded N requests.
received() { [ "$(wc -l <hooks.jsonl 2>/dev/null || echo 0)" -ge "$1" ]; }

# api_status: the responder's GET /api/status (amps.fcgi as a CGI
# program) into status.json.
api_status()
{
	env -i PATH="$PATH" AMPS_CONF="$TMPDIR_TEST/amps.conf" \
	    GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
	    SERVER_NAME=127.0.0.1 SERVER_PORT=8080 REMOTE_ADDR=127.0.0.1 \
	    HTTP_HOST=127.0.0.1:8080 REQUEST_METHOD=GET \
	    REQUEST_URI=/api/status QUERY_STRING= \
	    "$top_builddir/cgi/amps.fcgi" </dev/null >status.raw 2>status.err ||
	    fail "GET /api/status: $(cat status.err)"
	head -n1 status.raw | grep -q '^Status: 200' ||
	    fail "GET /api/status: $(head -c 300 status.raw)"
	sed '1,/^\r$/d' status.raw >status.json
}

touch hooks.jsonl
recv_start

cat >guide.xml <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<tv>
  <channel id="one"><display-name>One</display-name></channel>
  <programme start="20300101000000 +0000" stop="20300101010000 +0000"
      channel="one"><title>News</title></programme>
</tv>
EOF

cat >amps.conf <<EOF
server = {
	database = "amps.db";
	media_root = "media";
	control_socket = "$SOCK";
	idle_timeout = 30;
	cleanup_delay = 1;
	ensure_timeout = 20;
	input_timeout = 5;
	stall_timeout = 5;
	restart_delay_min = 1;
	restart_delay_max = 2;
	webhook_timeout = 2;
	webhook_retry_for = 3600;
};
ffmpeg_profiles = {
	hls2 = { video_codec = "copy"; audio_codec = "copy";
	    output_format = "hls"; segment_duration = 2; playlist_size = 4; };
};
streams = (
	{ id = 1; name = "One"; epg_id = "one"; source = "$AV";
	  ffmpeg_profile = "hls2";
	  input_args = [ "-re", "-stream_loop", "-1" ]; }
);
epg_sources = (
	{ name = "guide"; path = "guide.xml"; }
);
webhooks = (
	{ name = "signed"; url = "http://127.0.0.1:$PORT/signed";
	  events = [ "stream.started", "stream.stopped" ];
	  secret = "s3cret-\"quoted\"-key"; },
	{ url = "http://127.0.0.1:$PORT/all"; }
);
EOF
run_amps -c amps.conf check-config
expect_rc "check-config" 0

# --- receiver up: delivered at once --------------------------------------
streamd_start amps.conf streamd.log
note "streamd $SD_PID up, receiver on $PORT"
ensure 1 hls
poll "stream.started queued" 20 queued stream.started 2
ctl_ok '{"cmd":"stop","stream":1}'
poll "stream.stopped queued" 20 queued stream.stopped 2
run_amps -c amps.conf epg-refresh
expect_rc "epg-refresh" 0
poll "first events delivered" 20 none_pending
N1=$(q "SELECT count(*) FROM webhook_outbox")
poll "first events received" 10 received "$N1"
note "$N1 deliveries with the receiver up"

# --- receiver down: queued and retried ----------------------------------
recv_stop
ensure 1 hls
poll "stream.started queued again" 20 queued stream.started 4
ctl_ok '{"cmd":"stop","stream":1}'
# (Queued by streamd's housekeeping, a moment after the stop.)
poll "stream.stopped queued again" 20 queued stream.stopped 4
run_amps -c amps.conf epg-refresh
expect_rc "epg-refresh while the receiver is down" 0
poll "a failed delivery retried" 20 retried
[ "$(pending)" -ge 3 ] || sd_fail "expected 3 waiting events, not $(pending)"
ERR=$(q "SELECT last_error FROM webhook_outbox WHERE delivered IS NULL AND
    last_error IS NOT NULL LIMIT 1")
assert_match "last_error of a refused delivery" "onnect" "$ERR"
# Per webhook, only the oldest waiting row has been tried.
assert_eq "rows tried behind a waiting one" 0 "$(q "SELECT count(*) FROM
    webhook_outbox o WHERE delivered IS NULL AND attempts > 0 AND EXISTS
    (SELECT 1 FROM webhook_outbox p WHERE p.webhook = o.webhook AND
    p.id < o.id AND p.delivered IS NULL AND p.gave_up IS NULL)")"

# /api/status shows them waiting, with the error.
api_status
jq -e --arg all "http://127.0.0.1:$PORT/all" '.webhooks.pending >= 3 and
    .webhooks.delivered >= 5 and .webhooks.failed == 0 and
    (.webhooks.targets | map(.webhook) == ["signed", $all]) and
    (.webhooks.targets | all(.last_error != null and .next_attempt != null
    and .last_delivery != null)) and (.webhooks.targets[0].url |
    endswith("/signed"))' status.json >/dev/null ||
    fail "/api/status while the receiver is down: $(jq -c .webhooks status.json)"

# streamd dies, one more event is queued while it is down (by the CLI).
streamd_stop "kill -9 while the receiver is down" KILL
run_amps -c amps.conf epg-refresh
expect_rc "epg-refresh while streamd is down" 0
WAITING=$(pending)
note "$WAITING events waiting over the restart"
[ "$WAITING" -ge 4 ] || fail "expected 4 waiting events, not $WAITING"
assert_eq "nothing received while the receiver was down" "$N1" \
    "$(wc -l <hooks.jsonl)"

# --- both back: everything arrives ---------------------------------------
recv_start "$PORT"
streamd_start amps.conf streamd2.log
poll "every event delivered after the restart" 30 none_pending
assert_eq "given up" 0 "$(q "SELECT count(*) FROM webhook_outbox WHERE
    gave_up IS NOT NULL")"
ALL=$(q "SELECT count(*) FROM webhook_outbox")
poll "every delivery received" 10 received "$ALL"
# Nothing more comes: no repeat of a delivered row.
sleep 2
assert_eq "requests received" "$ALL" "$(wc -l <hooks.jsonl)"

api_status
jq -e --argjson n "$ALL" '.webhooks.pending == 0 and
    .webhooks.delivered == $n and
    (.webhooks.targets | all(.last_error == null and .next_attempt == null))' \
    status.json >/dev/null ||
    fail "/api/status after delivery: $(jq -c .webhooks status.json)"

sqlite3 -json amps.db "SELECT id, webhook, event, body FROM webhook_outbox
    ORDER BY id" >outbox.json || fail "sqlite3 -json failed"
python3 - "s3cret-\"quoted\"-key" "$PORT" <<'EOF' || fail "checks of the received requests failed"
import hashlib, hmac, json, sys

secret, port = sys.argv[1].encode(), sys.argv[2]
rows = json.load(open("outbox.json"))
reqs = [json.loads(line) for line in open("hooks.jsonl")]
errors = []
signed_url = "http://127.0.0.1:%s/signed" % port
byid = {str(r["id"]): r for r in rows}
for q in reqs:
    h = q["headers"]
    body = json.loads(q["body"])
    row = byid.get(h.get("x-amps-delivery"))
    if q["method"] != "POST" or row is None:
        errors.append("unexpected request %r" % q)
        continue
    if json.loads(row["body"]) != body:
        errors.append("body of %s differs from its row" % row["id"])
    if h.get("x-amps-event") != body["event"] or row["event"] != body["event"]:
        errors.append("X-Amps-Event of %s" % row["id"])
    if h.get("content-type") != "application/json":
        errors.append("Content-Type of %s" % row["id"])
    if not h.get("user-agent", "").startswith("amps/"):
        errors.append("User-Agent of %s" % row["id"])
    sig = h.get("x-amps-signature")
    if q["path"] == "/signed":
        want = "sha256=" + hmac.new(secret, q["body"].encode(),
                                    hashlib.sha256).hexdigest()
        if sig is None or not hmac.compare_digest(sig, want):
            errors.append("bad signature on %s: %s" % (row["id"], sig))
        if body["event"] not in ("stream.started", "stream.stopped"):
            errors.append("filtered event %s sent" % body["event"])
    elif q["path"] == "/all":
        if sig is not None:
            errors.append("signature without a secret on %s" % row["id"])
    else:
        errors.append("unexpected path %s" % q["path"])
    for k in ("id", "event", "time", "subject"):
        if k not in body:
            errors.append("no %s in the body of %s" % (k, row["id"]))

# Each webhook: every row, once, in the order queued.
for target, path in (("signed", "/signed"), ("http://127.0.0.1:%s/all" % port,
                                             "/all")):
    want = [r["id"] for r in rows if r["webhook"] == target]
    got = [int(q["headers"]["x-amps-delivery"]) for q in reqs
           if q["path"] == path]
    if got != want:
        errors.append("%s: received %s, queued %s" % (target, got, want))
    if not want:
        errors.append("%s: nothing queued" % target)

# The filter: "signed" got exactly the stream.started and stream.stopped
# events that "all" got (an event has one id across webhooks).
ev = lambda w, kinds=None: sorted(json.loads(r["body"])["id"] for r in rows
    if r["webhook"] == w and (kinds is None or r["event"] in kinds))
kinds = ("stream.started", "stream.stopped")
if ev("signed") != ev("http://127.0.0.1:%s/all" % port, kinds):
    errors.append("the filter: signed %s, all %s" % (ev("signed"),
                  ev("http://127.0.0.1:%s/all" % port, kinds)))
events = [r["event"] for r in rows]
for k, n in (("stream.started", 4), ("stream.stopped", 4),
             ("epg.refreshed", 3)):
    if events.count(k) < n:
        errors.append("%d %s rows, expected at least %d" %
                      (events.count(k), k, n))
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF

streamd_stop "SIGTERM"
assert_eq "streamd's exit status" 0 "$SD_STATUS"
recv_stop
exit 0
