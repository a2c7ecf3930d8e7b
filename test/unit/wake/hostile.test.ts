// The waker against a hostile client and a broken model server (issue 21), on loopback, real
// sockets: each case is one row of docs/wake-on-request.md, "Limits and hostile input". A crash
// here would end this test process: the waker runs in it.
import assert from "node:assert/strict";
import dns from "node:dns";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { type AddressInfo, BlockList, connect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { FakeDaemon, send, testWaker, until, type TestWaker } from "./fake-daemon.ts";

const HOST = "llm-ml.example.com";
const RUNNING = "embed-ml.example.com";
const chat = JSON.stringify({ model: "llm", messages: [{ role: "user", content: "hi" }] });

type T = { after(fn: () => Promise<void> | void): void };

async function daemonWith(t: T, services: Record<string, { name: string; namespace?: string; state: "stopped" | "starting" | "ready" }>) {
  const daemon = new FakeDaemon();
  daemon.delayMs = 5;
  await daemon.start();
  for (const [host, s] of Object.entries(services)) daemon.services.set(host, { namespace: s.namespace ?? "ml", ...s });
  t.after(() => daemon.stop());
  return daemon;
}

async function wakerFor(t: T, daemon: FakeDaemon, template: string, o: Parameters<typeof testWaker>[2] = {}): Promise<TestWaker> {
  const w = await testWaker(daemon.url, template, o);
  t.after(() => w.waker.close(0));
  return w;
}

/** A model server that writes whatever raw response bytes the test gives, per request. */
async function rawUpstream(t: T, respond: (socket: Socket, n: number) => void): Promise<{ port: number; requests: number }> {
  const state = { port: 0, requests: 0 };
  const server: Server = createServer((socket) => {
    socket.on("error", () => undefined);
    let seen = "";
    socket.on("data", (c) => {
      seen += String(c);
      if (seen.includes("\r\n\r\n")) {
        seen = "";
        state.requests += 1;
        respond(socket, state.requests);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as AddressInfo).port;
  t.after(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets(server)) s.destroy();
      }),
  );
  return state;
}
const open = new WeakMap<Server, Set<Socket>>();
function sockets(server: Server): Set<Socket> {
  let s = open.get(server);
  if (s === undefined) {
    s = new Set();
    open.set(server, s);
    const set = s;
    server.on("connection", (c) => {
      set.add(c);
      c.on("close", () => set.delete(c));
    });
  }
  return s;
}

test("a model server's status line or headers the waker cannot relay: 502 for that request only, the waker serves on", async (t) => {
  const answers = [
    "HTTP/1.1 200 O\u0007K\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 700 Far\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
  ];
  const up = await rawUpstream(t, (socket, n) => socket.end(answers[(n - 1) % answers.length] ?? ""));
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "ready" } });
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${up.port}`);
  const statuses: number[] = [];
  const reasons: string[] = [];
  for (let i = 0; i < answers.length; i++) {
    const r = await send(w.waker.port, HOST, { body: chat });
    statuses.push(r.status);
    reasons.push(r.body);
  }
  assert.deepEqual(statuses, [502, 502, 502, 200]);
  for (const body of reasons.slice(0, 3)) assert.match(body, /"type":"upstream_error".*cannot be relayed/);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_upstream_errors_total", { stage: "before_response" }), 3);
});

test("the broken answer of one tenant's model does not cut another tenant's held requests", async (t) => {
  const broken = await rawUpstream(t, (socket) => socket.end("HTTP/1.1 200 \u0000\r\n\r\n"));
  const good = createHttpServer((req, res) => {
    req.resume();
    res.end("fine");
  });
  await new Promise<void>((r) => good.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => good.close(() => r())));
  const goodPort = (good.address() as AddressInfo).port;
  // one waker, two services: the template's port comes from the namespace (two namespaces, two model servers)
  const daemon = await daemonWith(t, {
    [HOST]: { name: "llm", namespace: "broken", state: "ready" },
    "other-team.example.com": { name: "llm", namespace: "good", state: "stopped" },
  });
  const proxy = createServer((client) => {
    client.once("data", (first) => {
      const text = String(first);
      const port = /\/good\//.test(text) ? goodPort : broken.port;
      const upstream = connect(port, "127.0.0.1", () => {
        upstream.write(first);
        client.pipe(upstream).pipe(client);
      });
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => proxy.close(() => r())));
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/{namespace}`);
  const held = Array.from({ length: 50 }, () => send(w.waker.port, "other-team.example.com", { body: chat }));
  await until("50 held", () => w.waker.held === 50);
  assert.equal((await send(w.waker.port, HOST, { body: chat })).status, 502);
  daemon.services.get("other-team.example.com")!.state = "ready";
  const replies = await Promise.all(held);
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
  assert.equal(replies[0]?.body, "fine");
});

test("an unrequested 101 Switching Protocols is answered 502 at once; other 1xx are consumed and the final answer relayed", async (t) => {
  const up = await rawUpstream(t, (socket, n) => {
    if (n === 1) socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
    else if (n === 2) socket.write("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    else socket.end("HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal");
  });
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "ready" } });
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${up.port}`);
  const t0 = Date.now();
  const first = await send(w.waker.port, HOST, { body: chat });
  const second = await send(w.waker.port, HOST, { body: chat });
  assert.ok(Date.now() - t0 < 3_000, "answered, not left hanging");
  assert.equal(first.status, 502);
  assert.match(first.body, /switched protocols/);
  assert.equal(second.status, 502);
  const third = await send(w.waker.port, HOST, { body: chat });
  assert.equal(third.status, 200);
  assert.equal(third.body, "final");
});

test("slow uploads: a full hold of stalled bodies never refuses a running service; stalled bodies get 408 in seconds and their connections close", async (t) => {
  const up = createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("served"));
  });
  await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => up.close(() => r())));
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "stopped" }, [RUNNING]: { name: "embed", state: "ready" } });
  daemon.services.get(HOST)!.maxHeldRequests = 1000;
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${(up.address() as AddressInfo).port}`, {
    maxHeldRequests: 40,
    readyCacheMs: 50,
    bodyIdleTimeoutMs: 400,
    bodyTimeoutMs: 1_500,
  });
  // 40 uploads that declare 1 KiB and send a byte now and then (one every 200 ms: never idle, never done)
  const slow = Array.from({ length: 40 }, () => {
    const s = connect(w.waker.port, "127.0.0.1");
    s.on("error", () => undefined);
    s.write(`POST /v1/completions HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: 1024\r\n\r\nx`);
    const tick = setInterval(() => s.write("x"), 200);
    let text = "";
    s.on("data", (c) => (text += String(c)));
    return new Promise<{ text: string; at: number }>((resolve) =>
      s.on("close", () => {
        clearInterval(tick);
        resolve({ text, at: Date.now() });
      }),
    );
  });
  const t0 = Date.now();
  await until("the hold is full", () => w.waker.held === 40);
  // the hold is full of another service's requests: a running service's requests still go through
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 60)); // past the Ready cache
    const r = await send(w.waker.port, RUNNING, { body: chat });
    assert.equal(r.status, 200, `request ${i} to the running service`);
    assert.equal(r.body, "served");
  }
  const ended = await Promise.all(slow);
  for (const e of ended) {
    assert.match(e.text, /^HTTP\/1\.1 408 /);
    assert.match(e.text, /not complete within 1\.5 s/);
  }
  const last = Math.max(...ended.map((e) => e.at)) - t0;
  assert.ok(last < 4_000, `all ended by the whole-body timeout (${last} ms)`);
  assert.equal(await w.metrics.value("kserve_reclaimer_waker_rejected_requests_total", { cause: "body_timeout" }), 40);
  // a body that stops: the idle timeout
  const s = connect(w.waker.port, "127.0.0.1");
  s.write(`POST /v1/completions HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: 100\r\n\r\nabc`);
  let text = "";
  s.on("data", (c) => (text += String(c)));
  await new Promise((r) => s.on("close", r));
  assert.match(text, /^HTTP\/1\.1 408 [\s\S]*sent no byte for 0\.4 s/);
  await until("nothing held, no timer", () => w.waker.held === 0 && w.waker.timers === 0);
});

test("a cadence, not a call per request: 100 requests over 2 s to one stopped service make a handful of daemon calls", async (t) => {
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "stopped" } });
  daemon.services.get(HOST)!.maxHeldRequests = 1000;
  const w = await wakerFor(t, daemon, "http://127.0.0.1:9", { pollIntervalMs: 250 });
  const replies: Promise<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    replies.push(send(w.waker.port, HOST, { body: chat }).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(daemon.posts <= 2_000 / 250 + 3, `${daemon.posts} calls for 100 requests`);
  assert.equal(daemon.maxInFlight, 1);
  assert.equal(daemon.episodes, 1);
  await w.waker.close(0);
  await Promise.all(replies);
});

test("2,000 requests for random hosts: at most 16 daemon calls in flight, and a host the daemon does not know is not asked again for a few seconds", async (t) => {
  const daemon = await daemonWith(t, {});
  daemon.delayMs = 20;
  const w = await wakerFor(t, daemon, "http://127.0.0.1:9", { maxHeldRequests: 2_000 });
  const replies = await Promise.all(
    Array.from({ length: 2_000 }, (_, i) => send(w.waker.port, `h${i}.example.com`, { body: "{}" }).catch(() => ({ status: 0 }))),
  );
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([404]));
  assert.ok(daemon.maxInFlight <= 16, `${daemon.maxInFlight} calls in flight at once`);
  const posts = daemon.posts;
  for (let i = 0; i < 20; i++) assert.equal((await send(w.waker.port, "h7.example.com", { body: "{}" })).status, 404);
  assert.equal(daemon.posts, posts, "the negative cache answered");
});

test("a predictor name that does not resolve, 50 requests held: one retry loop with backoff, not a lookup every 250 ms per request", async (t) => {
  const lookups: string[] = [];
  const original = dns.lookup;
  // count what the waker asks the resolver, which answers NXDOMAIN at once for the .invalid name (as a
  // cluster's resolver does for a deleted Service), so the count is the waker's attempts, not a resolver's speed
  (dns as { lookup: unknown }).lookup = ((host: string, ...rest: unknown[]) => {
    if (!host.endsWith(".invalid")) return (original as (...a: unknown[]) => void)(host, ...rest);
    lookups.push(host);
    const callback = rest[rest.length - 1] as (e: NodeJS.ErrnoException) => void;
    const e: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`);
    e.code = "ENOTFOUND";
    setImmediate(() => callback(e));
  }) as typeof dns.lookup;
  t.after(() => {
    (dns as { lookup: unknown }).lookup = original;
  });
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "starting" } });
  const w = await wakerFor(t, daemon, "http://{name}-predictor.{namespace}.svc.invalid", { pollIntervalMs: 100, retryConnectMs: 250 });
  const replies = Array.from({ length: 50 }, () => send(w.waker.port, HOST, { body: chat }).catch(() => undefined));
  await until("50 held", () => w.waker.held === 50);
  daemon.services.get(HOST)!.state = "ready";
  await until("the first attempts", () => lookups.length >= 1);
  const start = lookups.length;
  await new Promise((r) => setTimeout(r, 3_000));
  const retries = lookups.length - start;
  // old: 50 requests x 4 attempts a second = ~600 in 3 s; now: one loop, 250 ms doubling (+-25 %): a handful
  assert.ok(retries <= 50 + 8, `${retries} lookups in 3 s after the first burst`);
  assert.equal(w.waker.held, 50, "still held: their deadline answers them, not the retry loop");
  await w.waker.close(0);
  await Promise.all(replies);
});

test("an all-digit namespace with a template that ends in {namespace}: 502 for that request, no crash", async (t) => {
  const daemon = await daemonWith(t, { "x-123.example.com": { name: "x", namespace: "123", state: "ready" } });
  const w = await wakerFor(t, daemon, "http://{name}.{namespace}");
  const r = await send(w.waker.port, "x-123.example.com", { body: chat });
  assert.equal(r.status, 502);
  assert.match(r.body, /makes no valid URL for 123\/x/);
  assert.equal((await send(w.waker.port, "x-123.example.com", { body: chat })).status, 502, "and again: still serving");
});

test("dot segments are refused before anything is forwarded, plain or encoded", async (t) => {
  const up = createHttpServer((req, res) => {
    req.resume();
    res.end(req.url);
  });
  await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => up.close(() => r())));
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "ready" } });
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${(up.address() as AddressInfo).port}/v1/models/{name}`);
  for (const path of ["/../../other/infer", "/a/./b", "/%2e%2e/other", "/x/%2E./y", "/..%2fother", "/..\\other", "/x/..?q=1"]) {
    const r = await send(w.waker.port, HOST, { path, body: chat });
    assert.equal(r.status, 400, path);
    assert.match(r.body, /'\.' or '\.\.' segment/);
  }
  const fine = await send(w.waker.port, HOST, { path: "/v1/chat/completions?a=../b", body: chat });
  assert.equal(fine.status, 200);
  assert.equal(fine.body, "/v1/models/llm/v1/chat/completions?a=../b", "a query may hold anything");
});

test("from a trusted proxy (--trusted-proxies) X-Forwarded-*, Forwarded and X-Real-IP are kept and extended", async (t) => {
  let seen: IncomingMessage["headers"] = {};
  const up = createHttpServer((req, res) => {
    seen = req.headers;
    req.resume();
    res.end("ok");
  });
  await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => up.close(() => r())));
  const daemon = await daemonWith(t, { [HOST]: { name: "llm", state: "ready" } });
  const trusted = new BlockList();
  trusted.addSubnet("127.0.0.0", 8, "ipv4");
  const w = await wakerFor(t, daemon, `http://127.0.0.1:${(up.address() as AddressInfo).port}`, { trustedProxies: trusted });
  await send(w.waker.port, HOST, {
    body: chat,
    headers: {
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-proto": "https",
      forwarded: "for=203.0.113.9;proto=https",
      "x-real-ip": "203.0.113.9",
    },
  });
  assert.equal(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
  assert.equal(seen["x-forwarded-proto"], "https");
  assert.equal(seen.forwarded, "for=203.0.113.9;proto=https, for=127.0.0.1");
  assert.equal(seen["x-real-ip"], "203.0.113.9");
});
