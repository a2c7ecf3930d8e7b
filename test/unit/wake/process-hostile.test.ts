// The real `kserve-reclaimer waker` process (the published entry) against what would have ended
// it or run it out of memory (issue 21): RSS is read from /proc, the process must be alive after.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { type AddressInfo, connect, createServer as createNetServer } from "node:net";
import { test } from "node:test";
import { WakerProcess } from "../../support/waker.ts";
import { FakeDaemon, send, tokenFile, until } from "./fake-daemon.ts";

const HOST = "llm-ml.example.com";
const MiB = 1024 * 1024;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

async function fakeDaemon(t: { after(fn: () => Promise<void>): void }, state: "starting" | "ready") {
  const daemon = new FakeDaemon();
  daemon.delayMs = 5;
  await daemon.start();
  daemon.services.set(HOST, { namespace: "ml", name: "llm", state, maxHeldRequests: 1000 });
  t.after(() => daemon.stop());
  return daemon;
}

test("a 5 MiB body in 1-byte chunks: the waker's RSS grows by about the body, not a hundred times it, and the body arrives intact", async (t) => {
  const received: { bytes: number; sum: number } = { bytes: 0, sum: 0 };
  const upstream = createServer((req: IncomingMessage, res) => {
    req.on("data", (c: Buffer) => {
      received.bytes += c.length;
      for (const b of c) received.sum = (received.sum + b) % 65_521;
    });
    req.on("end", () => res.end("got it"));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => upstream.close(() => r())));
  const daemon = await fakeDaemon(t, "starting");
  const waker = await WakerProcess.start({
    daemonUrl: daemon.url,
    tokenFile: tokenFile("waker-token"),
    upstreamTemplate: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    extraArgs: ["--body-idle-timeout=30s", "--body-timeout=5m"],
  });
  t.after(async () => {
    await waker.stop();
  });
  const pid = waker.proc.pid as number;
  await new Promise((r) => setTimeout(r, 500));
  const before = rss(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss(pid));
  }, 20);
  t.after(() => clearInterval(sampler));

  const size = 5 * MiB;
  const socket = connect(Number(new URL(waker.url).port), "127.0.0.1");
  let answer = "";
  socket.on("data", (c) => (answer += String(c)));
  const closed = new Promise((r) => socket.on("close", r));
  socket.write(`POST /v1/completions HTTP/1.1\r\nhost: ${HOST}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`);
  // each chunk-body is one byte: the parser hands the waker one 1-byte Buffer per chunk
  const piece = Buffer.from("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n1\r\nd\r\n".repeat(4096));
  const perPiece = 4 * 4096;
  let expectedSum = 0;
  for (let sent = 0; sent < size; sent += perPiece) {
    if (!socket.write(piece)) await new Promise((r) => socket.once("drain", r));
  }
  socket.write("0\r\n\r\n");
  for (let i = 0; i < size / 4; i++) expectedSum = (expectedSum + 97 + 98 + 99 + 100) % 65_521;
  await until("the body is held whole", async () => /kserve_reclaimer_waker_held_requests 1/.test(await waker.metrics()), 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const growth = peak - before;
  clearInterval(sampler);
  daemon.services.get(HOST)!.state = "ready";
  await closed;
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.match(answer, /got it$/);
  assert.equal(received.bytes, size);
  assert.equal(received.sum, expectedSum, "every byte in order");
  // the 5 MiB body is one 8 MiB buffer at most (capacity doubles), plus the transient garbage of five
  // million chunk objects and their socket reads (measured +52-74 MiB, the same whatever the body's
  // size past a few MiB); before, the body was held as five million Buffers: +2,054 MiB on this machine
  process.stdout.write(`# RSS before ${(before / MiB).toFixed(0)} MiB, peak growth ${(growth / MiB).toFixed(1)} MiB\n`);
  assert.ok(growth < 112 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB for a 5 MiB body`);
  assert.equal(waker.proc.exitCode, null);
});

test("the waker process survives a model server's unrelayable answers and reports a refused credential as not ready", async (t) => {
  const bad = createNetServer((s) => {
    s.on("error", () => undefined);
    s.once("data", () => s.end("HTTP/1.1 200 \u0007bell\r\ncontent-length: 0\r\n\r\n"));
  });
  await new Promise<void>((r) => bad.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => bad.close(() => r())));
  const daemon = await fakeDaemon(t, "ready");
  const waker = await WakerProcess.start({
    daemonUrl: daemon.url,
    tokenFile: tokenFile("waker-token"),
    upstreamTemplate: `http://127.0.0.1:${(bad.address() as AddressInfo).port}`,
  });
  t.after(async () => {
    await waker.stop();
  });
  const port = Number(new URL(waker.url).port);
  for (let i = 0; i < 3; i++) assert.equal((await send(port, HOST, { body: "{}" })).status, 502);
  assert.equal(waker.proc.exitCode, null, "alive");
  assert.match(await waker.metrics(), /kserve_reclaimer_waker_internal_errors_total\{kind="uncaughtException"\} 0/);

  // a token the daemon does not accept: not ready, and every request answered at once
  const refused = await WakerProcess.start({
    daemonUrl: daemon.url,
    tokenFile: tokenFile("someone-elses-token"),
    upstreamTemplate: "http://127.0.0.1:9",
    waitFor: "listening",
  });
  t.after(async () => {
    await refused.stop();
  });
  // the start-up check finds the token refused, without any client request
  await until("not ready", async () => (await fetch(`${refused.metricsUrl}/readyz`)).status === 503, 5_000);
  assert.match(await refused.metrics(), /^kserve_reclaimer_waker_credential_refused 1$/m);
  const t0 = Date.now();
  const r = await send(Number(new URL(refused.url).port), HOST, { body: "{}" });
  assert.ok(Date.now() - t0 < 1_000, "answered at once");
  assert.equal(r.status, 503);
  assert.match(r.body, /waker_unauthorized/);
  assert.match(refused.output(), /"level":"error".*refuses the waker's credential/);
});
