// The waker end to end on 127.0.0.1: a real fake daemon (by the contract), a real fake model server
// (the traffic simulator's OpenAI endpoints) or a purpose-built upstream, real sockets.
import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { StaticReadiness, TrafficSimulator } from "../../support/simulator.ts";
import { FakeDaemon, send, testWaker, tokenFile, until, type TestWaker } from "./fake-daemon.ts";

const HOST = "llm-ml.example.com";

async function setup(
  t: { after(fn: () => Promise<void>): void },
  o: { state?: "stopped" | "starting" | "ready" | "refused"; timeoutSeconds?: number; serviceMax?: number; upstream?: string } & Parameters<
    typeof testWaker
  >[2] = {},
) {
  const daemon = new FakeDaemon();
  await daemon.start();
  daemon.services.set(HOST, {
    namespace: "ml",
    name: "llm",
    state: o.state ?? "stopped",
    ...(o.timeoutSeconds === undefined ? {} : { timeoutSeconds: o.timeoutSeconds }),
    ...(o.serviceMax === undefined ? {} : { maxHeldRequests: o.serviceMax }),
  });
  const readiness = new StaticReadiness();
  readiness.set("ml/llm", true);
  const sim = new TrafficSimulator(readiness, { chunkDelayMs: 5 });
  const simUrl = await sim.listen(0);
  const template = o.upstream ?? `${simUrl}/v1/namespaces/{namespace}/inferenceservices/{name}`;
  const w = await testWaker(daemon.url, template, o);
  t.after(async () => {
    await w.waker.close(0);
    await daemon.stop();
    await sim.close();
  });
  return { daemon, sim, w, port: w.waker.port };
}

const chat = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] });
const held = (w: TestWaker) => w.metrics.value("kserve_reclaimer_waker_held_requests");
const rejected = (w: TestWaker, cause: string) => w.metrics.value("kserve_reclaimer_waker_rejected_requests_total", { cause });

async function quiet(w: TestWaker): Promise<void> {
  await until("nothing held and no timer left", () => w.waker.held === 0 && w.waker.timers === 0);
  assert.equal(await held(w), 0);
}

test("200 concurrent requests for a stopped service: one wake episode, one call in flight, all forwarded when Ready", async (t) => {
  const { daemon, sim, w, port } = await setup(t, { serviceMax: 1000 });
  const replies = Array.from({ length: 200 }, () => send(port, HOST, { body: chat, headers: { "content-type": "application/json" } }));
  await until("200 held", () => w.waker.held === 200);
  assert.equal(await held(w), 200);
  await new Promise((r) => setTimeout(r, 200)); // several polls while held
  daemon.services.get(HOST)!.state = "ready";
  const all = await Promise.all(replies);
  assert.deepEqual(new Set(all.map((r) => r.status)), new Set([200]));
  assert.equal((JSON.parse(all[0]!.body) as { object: string }).object, "chat.completion");
  assert.equal(daemon.episodes, 1, "exactly one POST found the service stopped");
  assert.equal(daemon.maxInFlight, 1, "never two calls in flight for one host");
  assert.ok(daemon.posts < 20, `polls, not a stampede: ${daemon.posts} POSTs`);
  assert.equal(sim.core.report().find((r) => r.target === "ml/llm")?.servedTotal, 200);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_forwarded_requests_total"), 200);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_first_byte_seconds"), 200);
  await quiet(w);
});

test("a held request's streamed answer reaches the client chunk by chunk, before the upstream sends the last", async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write('data: {"n":1}\n\n');
    void released.then(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'));
  });
  const { daemon, w, port } = await setup(t, { upstream: `http://127.0.0.1:${upstream.port}` });
  t.after(() => upstream.close());
  const req = request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/v1/chat/completions",
    agent: false,
    setHost: false,
    headers: { host: HOST },
  });
  req.end(JSON.stringify({ stream: true }));
  const response = new Promise<IncomingMessage>((resolve) => req.on("response", resolve));
  await until("held and the start asked for", () => w.waker.held === 1 && daemon.episodes === 1);
  daemon.services.get(HOST)!.state = "ready";
  const res = await response;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-type"], "text/event-stream");
  res.setEncoding("utf8");
  const chunks: string[] = [];
  const first = await new Promise<string>((resolve) => res.once("data", resolve));
  chunks.push(first);
  assert.equal(first, 'data: {"n":1}\n\n', "the first event arrived while the upstream still holds the last");
  release();
  for await (const c of res) chunks.push(c as string);
  assert.equal(chunks.join(""), 'data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
  assert.equal(daemon.episodes, 1);
  await quiet(w);
});

test("deadline: 503 with Retry-After, x-should-retry and a JSON body; nothing held, no timer left", async (t) => {
  const { daemon, w, port } = await setup(t, { timeoutSeconds: 0.3 });
  const t0 = Date.now();
  const r = await send(port, HOST, { body: chat });
  assert.ok(Date.now() - t0 >= 250, "held until the service's timeout");
  assert.equal(r.status, 503);
  assert.equal(r.headers["retry-after"], "7");
  assert.equal(r.headers["x-should-retry"], "true");
  assert.match(String(r.headers["content-type"]), /application\/json/);
  assert.deepEqual(JSON.parse(r.body), { error: { type: "model_starting", message: "ml/llm is starting; retry in 7 s" } });
  assert.equal(await rejected(w, "timeout"), 1);
  assert.equal(daemon.episodes, 1);
  await quiet(w);
});

test("caps: --max-held-requests, the service's maxHeldRequests and --max-held-bytes answer 503 queue_full", async (t) => {
  const { daemon, w, port } = await setup(t, { maxHeldRequests: 5, maxHeldBytes: 64 * 1024, maxBodyBytes: 40 * 1024 });
  const first = Array.from({ length: 5 }, () => send(port, HOST, { body: chat }));
  await until("5 held", () => w.waker.held === 5);
  const sixth = await send(port, HOST, { body: chat });
  assert.equal(sixth.status, 503);
  assert.equal((JSON.parse(sixth.body) as { error: { type: string } }).error.type, "queue_full");
  assert.equal(sixth.headers["x-should-retry"], "true");
  assert.ok(Number(sixth.headers["retry-after"]) >= 1);
  daemon.services.get(HOST)!.state = "ready";
  assert.deepEqual(
    (await Promise.all(first)).map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  // bytes: two 30 KiB bodies fit in 64 KiB, the third does not
  daemon.services.get(HOST)!.state = "starting";
  w.client.forget(HOST);
  const big = JSON.stringify({ model: "llm", prompt: "x".repeat(30 * 1024) });
  const two = [send(port, HOST, { body: big }), send(port, HOST, { body: big })];
  await until("2 held", () => w.waker.held === 2);
  const third = await send(port, HOST, { body: big });
  assert.equal(third.status, 503);
  assert.equal((JSON.parse(third.body) as { error: { type: string } }).error.type, "queue_full");
  assert.equal(await rejected(w, "queue_full"), 2);
  daemon.services.get(HOST)!.state = "ready";
  assert.deepEqual(
    (await Promise.all(two)).map((r) => r.status),
    [200, 200],
  );
  await quiet(w);
});

test("the service's own maxHeldRequests from the daemon: the newest beyond it are answered queue_full", async (t) => {
  // the waker's own cap (1000) is far; the daemon says 3 for this service
  const { daemon, w, port } = await setup(t, { serviceMax: 3 });
  const replies = Array.from({ length: 5 }, () => send(port, HOST, { body: chat }));
  await until("the two beyond the cap answered", async () => (await rejected(w, "queue_full")) === 2);
  assert.equal(w.waker.held, 3);
  daemon.services.get(HOST)!.state = "ready";
  const statuses = (await Promise.all(replies)).map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 503, 503]);
  await quiet(w);
});

test("a body over --max-body-bytes is answered 413, declared or streamed, and the connection is closed: nothing more is read", async (t) => {
  const { w, port } = await setup(t, { maxBodyBytes: 2048 });
  const declared = await send(port, HOST, { body: "x".repeat(4096) });
  assert.equal(declared.status, 413);
  assert.equal(declared.headers.connection, "close");
  assert.equal((JSON.parse(declared.body) as { error: { type: string } }).error.type, "request_too_large");
  // chunked: no Content-Length, the cap is found while reading; the client goes on sending 8 MiB
  const socket = connect(port, "127.0.0.1");
  socket.write(`POST /v1/completions HTTP/1.1\r\nhost: ${HOST}\r\ntransfer-encoding: chunked\r\n\r\n`);
  let text = "";
  socket.on("data", (c) => (text += String(c)));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const chunk = `${(64 * 1024).toString(16)}\r\n${"y".repeat(64 * 1024)}\r\n`;
  let written = 0;
  let stop = false;
  void closed.then(() => (stop = true));
  while (!stop && written < 8 * 1024 * 1024) {
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once("drain", r)), closed]);
    written += chunk.length;
  }
  await closed;
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.match(text, /connection: close/i);
  assert.ok(written < 8 * 1024 * 1024, `the waker closed the connection instead of reading on (${written} bytes written)`);
  assert.equal(await rejected(w, "body_too_large"), 2);
  await quiet(w);
});

test("unknown host: 404 JSON; Refused: 503 at once with the daemon's message", async (t) => {
  const { daemon, w, port } = await setup(t);
  const unknown = await send(port, "nobody.example.com", { body: chat });
  assert.equal(unknown.status, 404);
  assert.equal((JSON.parse(unknown.body) as { error: { type: string } }).error.type, "unknown_host");
  daemon.services.get(HOST)!.state = "refused";
  const t0 = Date.now();
  const refused = await send(port, HOST, { body: chat });
  assert.ok(Date.now() - t0 < 1_000, "answered at once");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers["x-should-retry"], "false");
  assert.deepEqual(JSON.parse(refused.body), { error: { type: "model_stopped", message: "ml/llm was stopped by a person" } });
  assert.equal(daemon.episodes, 0);
  assert.equal(await rejected(w, "refused"), 1);
  await quiet(w);
});

test("daemon down: held until the deadline, then 503; a daemon that is not the leader is asked again", async (t) => {
  const { daemon, w, port } = await setup(t, { holdTimeoutMs: 400 });
  await daemon.stop();
  const t0 = Date.now();
  const r = await send(port, HOST, { body: chat });
  assert.ok(Date.now() - t0 >= 350);
  assert.equal(r.status, 503);
  assert.equal(r.headers["x-should-retry"], "true");
  assert.match((JSON.parse(r.body) as { error: { message: string } }).error.message, /llm-ml\.example\.com is starting; retry in 10 s/);
  assert.ok((await w.metrics.value("kserve_reclaimer_waker_daemon_errors_total")) >= 2, "asked again while held");
  const silence = w.logs.filter((l) => l.includes("the daemon gave no answer"));
  assert.ok(silence.length >= 2);
  assert.equal(silence.filter((l) => l.includes('"level":"warn"')).length, 1, "one warning per host, then debug");
  await quiet(w);
  // 503 not the leader: keep holding, forward once a leader answers
  await daemon.start(daemon.port);
  daemon.failWith = 503;
  daemon.services.get(HOST)!.state = "ready";
  const pending = send(port, HOST, { body: chat });
  await until("a few refused polls", () => daemon.posts >= 3);
  daemon.failWith = undefined;
  assert.equal((await pending).status, 200);
  await quiet(w);
});

test("a client that leaves while its request is held leaves nothing behind", async (t) => {
  const { w, port } = await setup(t);
  const abort = new AbortController();
  const gone = send(port, HOST, { body: chat, signal: abort.signal }).catch((e: unknown) => e);
  await until("held", () => w.waker.held === 1);
  abort.abort();
  assert.ok((await gone) instanceof Error);
  await quiet(w);
});

test("hostile Host headers: empty, 10 KB, control characters, IPv6 literal with port; none reaches the daemon", async (t) => {
  const { daemon, w, port } = await setup(t, { state: "ready" });
  const raw = async (hostLine: string): Promise<number> => {
    const socket = connect(port, "127.0.0.1");
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\n${hostLine}content-length: 2\r\nconnection: close\r\n\r\n{}`);
    let text = "";
    for await (const c of socket) text += String(c);
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  };
  assert.equal(await raw("host: \r\n"), 400);
  assert.equal(await raw(""), 400, "no Host at all");
  assert.equal(await raw(`host: ${"a".repeat(10_240)}.example.com\r\n`), 400);
  assert.equal(await raw("host: llm-ml.example.com\u0007\r\n"), 400);
  assert.equal(await raw("host: llm\u001b[2J-ml.example.com\r\n"), 400);
  assert.equal(await raw("host: [::1]:8080\r\n"), 404);
  assert.equal(await raw("host: 127.0.0.1:8080\r\n"), 404);
  assert.equal(await raw("host: a.example.com\r\nhost: b.example.com\r\n"), 400);
  assert.equal(daemon.posts, 0);
  // an absolute-form target names a host of the client's choosing: never followed
  const absolute = await send(port, HOST, { path: "http://169.254.169.254/latest", body: chat });
  assert.equal(absolute.status, 400);
  // and the waker still serves
  assert.equal((await send(port, "LLM-ML.example.com:443", { body: chat })).status, 200);
  await quiet(w);
});

test("an upstream that dies mid-stream: the client's connection ends, the error is counted", async (t) => {
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write('data: {"n":1}\n\n');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  t.after(() => upstream.close());
  const { w, port } = await setup(t, { state: "ready", upstream: `http://127.0.0.1:${upstream.port}` });
  const outcome = await new Promise<string>((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/v1/chat/completions", agent: false, setHost: false, headers: { host: HOST } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve(`ended: ${body}`));
        res.on("error", () => resolve(`cut after: ${body}`));
        res.on("aborted", () => resolve(`cut after: ${body}`));
      },
    );
    req.on("error", (e) => resolve(`error ${e.message}`));
    req.end("{}");
  });
  assert.equal(outcome, 'cut after: data: {"n":1}\n\n');
  await until(
    "counted",
    async () => (await w.metrics.value("kserve_reclaimer_waker_upstream_errors_total", { stage: "during_response" })) === 1,
  );
  await quiet(w);
});

test("a client that leaves mid-stream: the upstream connection is closed too (the model stops generating)", async (t) => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const upstream = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write('data: {"n":1}\n\n');
    const tick = setInterval(() => res.write('data: {"n":2}\n\n'), 20);
    res.on("close", () => {
      clearInterval(tick);
      upstreamClosed();
    });
  });
  t.after(() => upstream.close());
  const { w, port } = await setup(t, { state: "ready", upstream: `http://127.0.0.1:${upstream.port}` });
  const req = request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/v1/chat/completions",
    agent: false,
    setHost: false,
    headers: { host: HOST },
  });
  req.end("{}");
  const res = await new Promise<IncomingMessage>((resolve) => req.on("response", resolve));
  await new Promise((r) => res.once("data", r));
  req.destroy();
  await closed;
  assert.equal(
    await w.metrics.value("kserve_reclaimer_waker_upstream_errors_total", { stage: "during_response" }),
    0,
    "the client left: no upstream error",
  );
  await quiet(w);
});

test("Ready but the upstream refuses connections (endpoints not programmed): retried until it listens", async (t) => {
  const free = await listen(() => {});
  const upstreamPort = free.port;
  await free.close();
  const { daemon, w, port } = await setup(t, { state: "ready", upstream: `http://127.0.0.1:${upstreamPort}` });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const pending = send(port, HOST, { body: chat });
  // some 15 refused attempts, 40 ms apart: each is one connection, none leaves a listener behind
  await new Promise((r) => setTimeout(r, 600));
  const late = await listen((_req, res) => res.end("late but fine"), upstreamPort);
  t.after(() => late.close());
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(r.body, "late but fine");
  assert.ok(daemon.posts >= 1);
  assert.deepEqual(
    warnings.map((x) => x.name),
    [],
  );
  await quiet(w);
});

test("a Ready answer is reused for a few seconds: a running service costs no call per request", async (t) => {
  const { daemon, w, port } = await setup(t, { state: "ready" });
  for (let i = 0; i < 20; i++) assert.equal((await send(port, HOST, { body: chat })).status, 200);
  assert.equal(daemon.posts, 1);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_wake_requests_total"), 1);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_forwarded_requests_total"), 20);
  await quiet(w);
});

test("a credential the daemon refuses: answered 503 waker_unauthorized at once (not held 5 min), not ready, counted; ready again once the rotated token is accepted", async (t) => {
  const file = tokenFile("old-token");
  const { daemon, w, port } = await setup(t, { state: "ready", tokenFile: file, credentialCheckMs: 50 });
  daemon.token = "new-token";
  const t0 = Date.now();
  const r = await send(port, HOST, { body: chat });
  assert.ok(Date.now() - t0 < 2_000, "answered at once, not after the hold timeout");
  assert.equal(r.status, 503);
  assert.equal(r.headers["x-should-retry"], "false", "a configuration fault: retrying the same waker does not help");
  const body = JSON.parse(r.body) as { error: { type: string; message: string } };
  assert.equal(body.error.type, "waker_unauthorized");
  assert.match(body.error.message, /refused the waker's token \(401/);
  assert.equal(w.waker.ready().ok, false);
  assert.match(w.waker.ready().problems.join(), /refuses the waker's credential/);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_credential_refused"), 1);
  assert.equal(await rejected(w, "waker_unauthorized"), 1);
  assert.equal(w.logs.filter((l) => l.includes('"level":"error"') && l.includes("refuses the waker's credential")).length, 1);
  // while refused, the next request is answered without a call
  const posts = daemon.tokensSeen.length;
  assert.equal((await send(port, HOST, { body: chat })).status, 503);
  // the token rotates: the background check sees it accepted, and requests flow again
  writeFileSync(file, "new-token\n");
  await until("ready again", () => w.waker.ready().ok);
  assert.ok(daemon.tokensSeen.length > posts);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_credential_refused"), 0);
  assert.equal((await send(port, HOST, { body: chat })).status, 200);
  await quiet(w);
});

test("no token file at all is the same configuration fault", async (t) => {
  const { w, port } = await setup(t, { tokenFile: "/nonexistent/token", credentialCheckMs: 60_000 });
  const r = await send(port, HOST, { body: chat });
  assert.equal(r.status, 503);
  assert.match(r.body, /waker_unauthorized.*cannot read the token file \/nonexistent\/token/);
  assert.equal(w.waker.ready().ok, false);
});

test("hop-by-hop headers are dropped, X-Forwarded-For/Host/Proto set by the waker, Host is the upstream's", async (t) => {
  let seen: IncomingMessage["headers"] = {};
  const upstream = await listen((req, res) => {
    seen = req.headers;
    res.writeHead(200, { "content-type": "text/plain", connection: "keep-alive", "keep-alive": "timeout=5", "x-model": "llm" });
    res.end("ok");
  });
  t.after(() => upstream.close());
  const { w, port } = await setup(t, { state: "ready", upstream: `http://127.0.0.1:${upstream.port}/prefix` });
  const r = await send(port, HOST, {
    path: "/v1/chat/completions?x=1",
    body: chat,
    headers: {
      connection: "x-secret, keep-alive",
      "x-secret": "drop me",
      "keep-alive": "timeout=1",
      te: "trailers",
      "proxy-authorization": "Basic abc",
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-proto": "https",
      forwarded: "for=203.0.113.9;proto=https",
      "x-real-ip": "203.0.113.9",
      authorization: "Bearer user-key",
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers["x-model"], "llm");
  assert.equal(r.headers["keep-alive"], "timeout=65", "the waker's own connection's, not the upstream's timeout=5");
  for (const h of ["x-secret", "keep-alive", "te", "proxy-authorization"]) assert.equal(seen[h], undefined, h);
  assert.equal(seen.host, `127.0.0.1:${upstream.port}`);
  // the client is not a trusted proxy: what it says about itself is replaced, not passed on
  assert.equal(seen["x-forwarded-for"], "127.0.0.1");
  assert.equal(seen["x-forwarded-host"], HOST);
  assert.equal(seen["x-forwarded-proto"], "http");
  assert.equal(seen.forwarded, `for=127.0.0.1;host=${HOST};proto=http`);
  assert.equal(seen["x-real-ip"], "127.0.0.1");
  assert.equal(seen.authorization, "Bearer user-key", "the client's own credentials are the model server's business");
  assert.equal(seen["content-length"], String(Buffer.byteLength(chat)));
  assert.equal(upstream.lastPath, "/prefix/v1/chat/completions?x=1");
  await quiet(w);
});

test("close: held requests are answered 503 so clients retry elsewhere; no timer is left", async (t) => {
  const { w, port } = await setup(t);
  const pending = [send(port, HOST, { body: chat }), send(port, HOST, { body: chat })];
  await until("held", () => w.waker.held === 2);
  await w.waker.close(0);
  for (const r of await Promise.all(pending)) {
    assert.equal(r.status, 503);
    assert.equal(r.headers["x-should-retry"], "true");
    assert.equal(r.headers["retry-after"], "1");
    assert.equal((JSON.parse(r.body) as { error: { type: string } }).error.type, "shutting_down");
  }
  assert.equal(w.waker.timers, 0);
  assert.equal(w.waker.held, 0);
});

type TestUpstream = { port: number; lastPath: string | undefined; close(): Promise<void>; server: Server };

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<TestUpstream> {
  const u: TestUpstream = {
    port: 0,
    lastPath: undefined,
    server: createServer((req, res) => {
      u.lastPath = req.url;
      req.resume();
      handler(req, res);
    }),
    close: () =>
      new Promise<void>((resolve) => {
        u.server.close(() => resolve());
        u.server.closeAllConnections();
      }),
  };
  await new Promise<void>((resolve) => u.server.listen(port, "127.0.0.1", resolve));
  u.port = (u.server.address() as AddressInfo).port;
  return u;
}
