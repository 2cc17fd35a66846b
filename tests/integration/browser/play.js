#!/usr/bin/env node
// The driver of tests/integration/browser.sh: a headless system Chromium,
// driven by playwright-core, opens player.html, where hls.js plays an HLS
// playlist of a live amps channel from the real web server.  Passes when
// the video plays: currentTime advances by at least --min-advance seconds
// over --seconds seconds of wall time, the picture changes between two
// screenshots, and the screenshot is not a blank, uniform image.  Exits 0
// on success, 1 on failure (with what the page, hls.js and the browser
// said), 2 on bad arguments.
//
//   node play.js --modules DIR --chromium PATH --url URL --out FILE.png
//       [--seconds 5] [--min-advance 3] [--timeout 60]
//
// DIR is the node_modules folder that holds playwright-core and hls.js.
// The page and hls.min.js are served from disk by a small HTTP server of
// the driver's own on another loopback port, so the media requests to URL
// are cross-origin, as for a real player on another site, and need the
// CORS header the web server configs send.  (Not page.route() with a
// made-up origin: Chromium's Local Network Access would block a page of a
// public or unknown address space from reading loopback addresses
// whatever the CORS headers say.)

"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const zlib = require("zlib");

function usage(msg) {
	process.stderr.write(`play.js: ${msg}\n` +
	    "usage: node play.js --modules DIR --chromium PATH --url URL " +
	    "--out FILE.png [--seconds N] [--min-advance N] [--timeout N]\n");
	process.exit(2);
}

function parseArgs(argv) {
	const opts = { seconds: 5, minAdvance: 3, timeout: 60 };
	const names = {
		"--modules": "modules", "--chromium": "chromium",
		"--url": "url", "--out": "out", "--seconds": "seconds",
		"--min-advance": "minAdvance", "--timeout": "timeout"
	};
	for (let i = 0; i < argv.length; i += 2) {
		const key = names[argv[i]];
		if (key === undefined || i + 1 >= argv.length)
			usage(`bad argument ${argv[i]}`);
		opts[key] = argv[i + 1];
	}
	for (const k of ["modules", "chromium", "url", "out"])
		if (!opts[k])
			usage(`--${k} is missing`);
	for (const k of ["seconds", "minAdvance", "timeout"]) {
		opts[k] = Number(opts[k]);
		if (!(opts[k] > 0))
			usage(`${k} must be a positive number`);
	}
	return opts;
}

// Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's
// screenshots are) into { width, height, channels, pixels }.
function decodePng(buf) {
	const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	if (buf.length < 8 || !buf.subarray(0, 8).equals(sig))
		throw new Error("not a PNG file");
	let off = 8, width = 0, height = 0, depth = 0, type = 0, interlace = 0;
	const idat = [];
	while (off + 8 <= buf.length) {
		const len = buf.readUInt32BE(off);
		const name = buf.toString("latin1", off + 4, off + 8);
		const data = buf.subarray(off + 8, off + 8 + len);
		if (name === "IHDR") {
			width = data.readUInt32BE(0);
			height = data.readUInt32BE(4);
			depth = data[8];
			type = data[9];
			interlace = data[12];
		} else if (name === "IDAT") {
			idat.push(data);
		} else if (name === "IEND") {
			break;
		}
		off += 12 + len;
	}
	if (depth !== 8 || (type !== 2 && type !== 6) || interlace !== 0)
		throw new Error(`unsupported PNG (depth ${depth}, colour type ` +
		    `${type}, interlace ${interlace})`);
	const ch = type === 6 ? 4 : 3;
	const raw = zlib.inflateSync(Buffer.concat(idat));
	const stride = width * ch;
	if (raw.length < height * (stride + 1))
		throw new Error("PNG data too short");
	const px = Buffer.alloc(height * stride);
	for (let y = 0; y < height; y++) {
		const f = raw[y * (stride + 1)];
		const line = raw.subarray(y * (stride + 1) + 1,
		    (y + 1) * (stride + 1));
		const cur = px.subarray(y * stride, (y + 1) * stride);
		const prev = y > 0 ? px.subarray((y - 1) * stride, y * stride) :
		    null;
		for (let x = 0; x < stride; x++) {
			const a = x >= ch ? cur[x - ch] : 0;
			const b = prev ? prev[x] : 0;
			const c = prev && x >= ch ? prev[x - ch] : 0;
			let v;
			switch (f) {
			case 0: v = 0; break;
			case 1: v = a; break;
			case 2: v = b; break;
			case 3: v = (a + b) >> 1; break;
			case 4: {
				const p = a + b - c;
				const pa = Math.abs(p - a), pb = Math.abs(p - b),
				    pc = Math.abs(p - c);
				v = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
				break;
			}
			default:
				throw new Error(`bad PNG filter ${f}`);
			}
			cur[x] = (line[x] + v) & 0xff;
		}
	}
	return { width, height, channels: ch, pixels: px };
}

// The number of distinct colours, each channel reduced to 5 bits so that
// the noise of video compression does not count.
function distinctColours(img) {
	const seen = new Set();
	const p = img.pixels;
	for (let i = 0; i < p.length; i += img.channels)
		seen.add(((p[i] >> 3) << 10) | ((p[i + 1] >> 3) << 5) |
		    (p[i + 2] >> 3));
	return seen.size;
}

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	const pwPath = path.join(opts.modules, "playwright-core");
	const hlsJs = path.join(opts.modules, "hls.js", "dist", "hls.min.js");
	const html = path.join(__dirname, "player.html");
	for (const f of [pwPath, hlsJs, html, opts.chromium])
		if (!fs.existsSync(f))
			usage(`${f} does not exist`);
	const { chromium } = require(pwPath);
	const files = {
		"/player.html": [html, "text/html; charset=utf-8"],
		"/hls.min.js": [hlsJs, "text/javascript"]
	};
	const server = http.createServer((req, res) => {
		const f = files[new URL(req.url, "http://x").pathname];
		if (f === undefined || (req.method !== "GET" &&
		    req.method !== "HEAD")) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { "Content-Type": f[1],
		    "Cache-Control": "no-store" });
		res.end(req.method === "HEAD" ? undefined :
		    fs.readFileSync(f[0]));
	});
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(0, "127.0.0.1", resolve);
	});
	const PAGE_ORIGIN = `http://127.0.0.1:${server.address().port}`;

	const consoleLog = [];
	const netLog = [];
	const stamp = () => new Date().toISOString().slice(11, 23);
	let browser = null;
	let page = null;
	let failed = null;

	// Everything the page and the browser said, for a failure.
	async function explain() {
		let state = null;
		if (page !== null) {
			try {
				state = await page.evaluate(() => {
					const v = document.getElementById("video");
					return {
						amps: window.amps,
						video: v ? {
							currentTime: v.currentTime,
							readyState: v.readyState,
							networkState: v.networkState,
							paused: v.paused,
							videoWidth: v.videoWidth,
							videoHeight: v.videoHeight,
							buffered: Array.from(
							    { length: v.buffered.length },
							    (_, i) => [v.buffered.start(i),
							    v.buffered.end(i)])
						} : null
					};
				});
			} catch (e) {
				state = `(cannot read the page: ${e.message})`;
			}
		}
		const out = [];
		out.push("--- page state (window.amps, <video>):");
		out.push(JSON.stringify(state, null, 2));
		out.push("--- console and page errors:");
		out.push(...(consoleLog.length ? consoleLog : ["(none)"]));
		out.push("--- requests to the media server:");
		out.push(...(netLog.length ? netLog.slice(-60) : ["(none)"]));
		return out.join("\n");
	}

	try {
		const args = ["--autoplay-policy=no-user-gesture-required",
		    "--mute-audio", "--disable-dev-shm-usage"];
		if (typeof process.getuid === "function" &&
		    process.getuid() === 0)
			args.push("--no-sandbox");
		browser = await chromium.launch({
			executablePath: opts.chromium,
			headless: true,
			args,
			timeout: opts.timeout * 1000
		});
		process.stdout.write(`play.js: ${opts.chromium} ` +
		    `${browser.version()}, playwright-core ` +
		    `${require(path.join(pwPath, "package.json")).version}\n`);
		const context = await browser.newContext({
			viewport: { width: 640, height: 360 }
		});
		page = await context.newPage();
		page.on("console", (m) =>
		    consoleLog.push(`${stamp()} console.${m.type()}: ${m.text()}`));
		page.on("pageerror", (e) =>
		    consoleLog.push(`${stamp()} page error: ${e.message}`));
		page.on("crash", () =>
		    consoleLog.push(`${stamp()} the page crashed`));
		page.on("response", (r) => {
			if (!r.url().startsWith(PAGE_ORIGIN))
				netLog.push(`${stamp()} ${r.status()} ${r.url()}`);
		});
		page.on("requestfailed", (r) =>
		    netLog.push(`${stamp()} FAILED ${r.url()}: ` +
		    `${r.failure() ? r.failure().errorText : "?"}`));

		const pageUrl = `${PAGE_ORIGIN}/player.html?src=` +
		    encodeURIComponent(opts.url);
		await page.goto(pageUrl, { timeout: opts.timeout * 1000 });
		const hv = await page.evaluate(() => window.amps.hlsVersion);
		process.stdout.write(`play.js: hls.js ${hv}, playing ${opts.url}\n`);

		// Until the video plays (or hls.js gives up).
		const started = Date.now();
		await page.waitForFunction(() => {
			const v = document.getElementById("video");
			return window.amps.fatal !== null ||
			    (window.amps.playing && !v.paused &&
			    v.currentTime > 0 && v.readyState >= 3);
		}, null, { timeout: opts.timeout * 1000, polling: 100 });
		const fatal = await page.evaluate(() => window.amps.fatal);
		if (fatal !== null)
			throw new Error(`hls.js: ${fatal}`);
		process.stdout.write("play.js: playing after " +
		    `${((Date.now() - started) / 1000).toFixed(1)} s\n`);

		const video = page.locator("#video");
		const read = () => page.evaluate(() => {
			const v = document.getElementById("video");
			return { t: v.currentTime, w: v.videoWidth,
			    h: v.videoHeight, fatal: window.amps.fatal };
		});
		const first = await read();
		const shot1 = await video.screenshot();
		const t0 = Date.now();
		await page.waitForTimeout(opts.seconds * 1000);
		const second = await read();
		const wall = (Date.now() - t0) / 1000;
		const advance = second.t - first.t;
		process.stdout.write(`play.js: currentTime ${first.t.toFixed(2)}` +
		    ` -> ${second.t.toFixed(2)} (+${advance.toFixed(2)} s in ` +
		    `${wall.toFixed(2)} s), video ${second.w}x${second.h}\n`);
		if (second.fatal !== null)
			throw new Error(`hls.js: ${second.fatal}`);
		if (!(advance >= opts.minAdvance))
			throw new Error(`currentTime advanced by ` +
			    `${advance.toFixed(2)} s in ${wall.toFixed(2)} s, ` +
			    `expected at least ${opts.minAdvance} s`);
		if (!(second.w > 0 && second.h > 0))
			throw new Error("the video has no picture " +
			    `(videoWidth ${second.w}, videoHeight ${second.h})`);

		const shot2 = await video.screenshot({ path: opts.out });
		const img = decodePng(shot2);
		const colours = distinctColours(img);
		process.stdout.write(`play.js: screenshot ${opts.out}: ` +
		    `${img.width}x${img.height}, ${shot2.length} bytes, ` +
		    `${colours} colours\n`);
		if (img.width < 320 || img.height < 180)
			throw new Error(`the screenshot is ${img.width}x` +
			    `${img.height}, expected the 640x360 video`);
		if (shot2.length < 10000 || colours < 64)
			throw new Error(`the screenshot looks blank: ` +
			    `${shot2.length} bytes, ${colours} colours`);
		// The test pattern moves: two frames seconds apart differ.
		const img1 = decodePng(shot1);
		if (img1.pixels.equals(img.pixels))
			throw new Error("the picture did not change in " +
			    `${wall.toFixed(2)} s of playback`);
	} catch (e) {
		failed = e;
	}

	if (failed !== null) {
		process.stderr.write(`play.js: FAIL: ${failed.message}\n`);
		process.stderr.write(await explain() + "\n");
		if (page !== null && !fs.existsSync(opts.out)) {
			try {
				await page.screenshot({ path: opts.out });
			} catch (e) {
				// The failure above is what matters.
			}
		}
	}
	if (browser !== null)
		await browser.close().catch(() => {});
	server.close();
	process.exit(failed === null ? 0 : 1);
}

main().catch((e) => {
	process.stderr.write(`play.js: ${e.stack || e}\n`);
	process.exit(1);
});
