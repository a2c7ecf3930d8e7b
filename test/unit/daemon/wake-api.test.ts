// The wake API over real HTTP (the report server on a free local port), with an in-memory token
// review: authentication, authorization, leadership, the body cap and hostile input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startReportServer } from "../../../src/report/http.ts";
import { TokenReviewer, wakeApiHandler, type WakeLookup } from "../../../src/daemon/wakeApi.ts";

const WAKER = "system:serviceaccount:kserve-reclaimer:kserve-reclaimer-waker";
const POLICY = { onRequest: true, timeout: "2m", maxHeldRequests: 7 };

type Reply = { status: number; headers: Record<string, unknown>; body: string };

function call(
  port: number,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: o.method ?? "POST", path: o.path ?? "/wake/v1/requests", headers: o.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

async function server(opts: { leader?: () => boolean; lookup?: WakeLookup; reviews?: string[] } = {}) {
  const reviews = opts.reviews ?? [];
  const results: string[] = [];
  const reviewer = new TokenReviewer({
    now: () => 0,
    review: async (token) => {
      reviews.push(token);
      if (token === "waker-token") return { authenticated: true, username: WAKER };
      if (token === "other-token") return { authenticated: true, username: "system:serviceaccount:ml:default" };
      if (token === "broken") throw new Error("apiserver unreachable");
      return { authenticated: false, username: undefined };
    },
  });
  const lookup: WakeLookup =
    opts.lookup ??
    ((host) =>
      host === "llama-ml.example.com"
        ? { namespace: "ml", name: "llama", state: "Starting", message: "ml/llama is starting", policy: POLICY }
        : undefined);
  const handler = wakeApiHandler({
    reviewer,
    wakerUser: WAKER,
    isLeader: opts.leader ?? (() => true),
    lookup,
    count: (r) => results.push(r),
  });
  const ok = () => ({ ok: true, problems: [] });
  const s = await startReportServer({
    metrics: { contentType: "text/plain", render: async () => "" },
    health: ok,
    ready: ok,
    port: 0,
    host: "127.0.0.1",
    handlers: [handler],
  });
  return { s, reviews, results };
}

const auth = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

test("the waker's token gets the service's state, timeout and cap; /metrics and /healthz still answer", async () => {
  const { s, results } = await server();
  try {
    const r = await call(s.port, { headers: auth("waker-token"), body: JSON.stringify({ host: "llama-ml.example.com" }) });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), {
      namespace: "ml",
      name: "llama",
      state: "Starting",
      timeoutSeconds: 120,
      maxHeldRequests: 7,
      retryAfterSeconds: 2,
      message: "ml/llama is starting",
    });
    assert.equal((await call(s.port, { method: "GET", path: "/healthz" })).status, 200);
    assert.equal((await call(s.port, { method: "GET", path: "/metrics" })).status, 200);
    assert.deepEqual(results, ["Starting"]);
  } finally {
    await s.close();
  }
});

test("401 without a token or with an invalid one, 403 for another ServiceAccount, 503 when reviews fail", async () => {
  const { s } = await server();
  try {
    const body = JSON.stringify({ host: "llama-ml.example.com" });
    const none = await call(s.port, { headers: { "content-type": "application/json" }, body });
    assert.equal(none.status, 401);
    assert.equal(none.headers["www-authenticate"], "Bearer");
    assert.equal(
      (await call(s.port, { headers: { authorization: "Basic dXNlcjpwYXNz", "content-type": "application/json" }, body })).status,
      401,
    );
    assert.equal((await call(s.port, { headers: auth("made-up"), body })).status, 401);
    assert.equal((await call(s.port, { headers: { ...auth("x"), authorization: `Bearer ${"a".repeat(10_000)}` }, body })).status, 401);
    // beyond Node's header limit: 431 from the server itself, and the process goes on
    assert.equal((await call(s.port, { headers: { ...auth("x"), authorization: `Bearer ${"a".repeat(20_000)}` }, body })).status, 431);
    assert.equal((await call(s.port, { headers: { ...auth("x"), authorization: "Bearer a b" }, body })).status, 401);
    const other = await call(s.port, { headers: auth("other-token"), body });
    assert.equal(other.status, 403);
    assert.match(JSON.parse(other.body).error, /system:serviceaccount:ml:default is not the waker/);
    const broken = await call(s.port, { headers: auth("broken"), body });
    assert.equal(broken.status, 503);
    assert.equal(broken.headers["retry-after"], "1");
  } finally {
    await s.close();
  }
});

test("a replica without the lease answers 503 not the leader", async () => {
  const { s, results } = await server({ leader: () => false });
  try {
    const r = await call(s.port, { headers: auth("waker-token"), body: JSON.stringify({ host: "llama-ml.example.com" }) });
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { error: "not the leader" });
    assert.deepEqual(results, ["NotLeader"]);
  } finally {
    await s.close();
  }
});

test("hostile bodies and requests: 413 over 4 KiB (declared or streamed), 400, 405, 415, 404; never a crash", async () => {
  const { s } = await server();
  try {
    const h = auth("waker-token");
    assert.equal((await call(s.port, { headers: h, body: JSON.stringify({ host: "a".repeat(5000) }) })).status, 413);
    // streamed without a length (chunked): cut at 4 KiB all the same
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/wake/v1/requests", headers: h }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("x".repeat(1000));
      req.end();
    });
    assert.equal(chunked, 413);
    for (const body of ["", "{", "[]", "null", '{"host": 5}', '{"host": ""}', '{"host": {"a": 1}}', '"llama-ml.example.com"']) {
      const r = await call(s.port, { headers: h, body });
      assert.equal(r.status, 400, body);
      assert.ok(JSON.parse(r.body).error);
    }
    assert.equal((await call(s.port, { method: "GET", headers: h })).status, 405);
    assert.equal((await call(s.port, { method: "PUT", headers: h, body: "{}" })).status, 405);
    assert.equal((await call(s.port, { headers: { ...h, "content-type": "text/plain" }, body: "{}" })).status, 415);
    assert.equal((await call(s.port, { path: "/wake/v2/x", headers: h, body: "{}" })).status, 404);
    const unknown = await call(s.port, { headers: h, body: JSON.stringify({ host: "\u001b[31mred\u001b[0m.example.com" }) });
    assert.equal(unknown.status, 404);
    assert.ok(!unknown.body.includes("\u001b"), "terminal escapes are escaped in the answer");
    assert.equal((await call(s.port, { headers: h, body: JSON.stringify({ host: "nobody.example.com" }) })).status, 404);
  } finally {
    await s.close();
  }
});

test("TokenReviewer: one review per token per minute (yes and no), bounded cache, one in flight per token, a cap on all", async () => {
  let now = 0;
  const asked: string[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const reviewer = new TokenReviewer({
    now: () => now,
    maxEntries: 3,
    maxInFlight: 2,
    review: async (token) => {
      asked.push(token);
      await gate;
      return { authenticated: token.startsWith("good"), username: token.startsWith("good") ? `user-${token}` : undefined };
    },
  });
  assert.deepEqual(await reviewer.check("good1"), { kind: "ok", username: "user-good1" });
  assert.deepEqual(await reviewer.check("good1"), { kind: "ok", username: "user-good1" });
  assert.deepEqual(await reviewer.check("bad"), { kind: "invalid" });
  assert.deepEqual(await reviewer.check("bad"), { kind: "invalid" });
  assert.deepEqual(asked, ["good1", "bad"]);
  now = 60_000;
  await reviewer.check("good1");
  assert.deepEqual(asked, ["good1", "bad", "good1"], "asked again after 60 s");
  for (const t of ["a", "b", "c", "d", "e"]) await reviewer.check(t);
  assert.equal(reviewer.cached, 3);

  gate = new Promise<void>((r) => (release = r));
  const first = reviewer.check("slow1");
  const same = reviewer.check("slow1");
  const second = reviewer.check("slow2");
  assert.deepEqual(await reviewer.check("slow3"), { kind: "unavailable", message: "too many token reviews in flight; retry" });
  release();
  assert.deepEqual(await first, { kind: "invalid" });
  assert.deepEqual(await same, { kind: "invalid" });
  assert.deepEqual(await second, { kind: "invalid" });
  assert.equal(asked.filter((t) => t === "slow1").length, 1);
});
