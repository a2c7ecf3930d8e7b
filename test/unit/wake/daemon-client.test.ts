// The waker's client of the wake API against a real server that answers what each case needs:
// anything but a well-formed answer is "unavailable" (ask again) or, for a refused credential,
// "refused"; never a crash or a wrong URL.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { DaemonClient } from "../../../src/wake/daemonClient.ts";
import { tokenFile } from "./fake-daemon.ts";

async function serve(
  t: { after(fn: () => Promise<void>): void },
  answer: (req: {
    body: string;
    auth: string | undefined;
  }) => { status: number; body: string; delayMs?: number } | Promise<{ status: number; body: string; delayMs?: number }>,
) {
  const seen: { auth: string | undefined; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += String(c)));
    req.on("end", () => {
      seen.push({ auth: req.headers.authorization, body });
      void Promise.resolve(answer({ body, auth: req.headers.authorization })).then((a) =>
        setTimeout(() => {
          res.writeHead(a.status, { "content-type": "application/json" });
          res.end(a.body);
        }, a.delayMs ?? 0),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const ok = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    namespace: "ml",
    name: "llm",
    state: "Starting",
    timeoutSeconds: 300,
    maxHeldRequests: 100,
    retryAfterSeconds: 5,
    message: "",
    ...extra,
  });

test("the contract's request: POST {host} with the bearer token; a Starting answer parsed", async (t) => {
  const d = await serve(t, () => ({ status: 200, body: ok() }));
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: Date.now });
  const r = await c.ask("llm-ml.example.com");
  assert.equal(r.kind, "answer");
  assert.deepEqual(d.seen, [{ auth: "Bearer tok", body: '{"host":"llm-ml.example.com"}' }]);
  assert.equal(c.readyAnswer("llm-ml.example.com"), undefined, "only Ready is cached");
});

test("answers that must not be trusted: wrong shapes, names that would bend the upstream URL, huge or non-JSON bodies", async (t) => {
  const bodies = [
    "not json",
    "null",
    "[]",
    ok({ state: "Sleeping" }),
    ok({ namespace: "../etc" }),
    ok({ name: "llm.evil.com" }),
    ok({ name: "llm@evil" }),
    ok({ name: "" }),
    ok({ timeoutSeconds: -1 }),
    ok({ timeoutSeconds: "300" }),
    ok({ maxHeldRequests: 1.5 }),
    ok({ message: "x".repeat(5_000) }),
    `{"pad":"${"x".repeat(100_000)}"}`,
  ];
  let i = 0;
  const d = await serve(t, () => ({ status: 200, body: bodies[i++] as string }));
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: Date.now });
  for (const b of bodies) {
    const r = await c.ask("h.example.com");
    assert.equal(r.kind, "unavailable", b.slice(0, 60));
  }
});

test("statuses: 404 unknown, 401/403 refused (a configuration fault), 503/500 unavailable, with the daemon's words", async (t) => {
  const replies = [
    { status: 404, body: '{"error":"no wake-enabled InferenceService has this host"}' },
    { status: 401, body: '{"error":"invalid token"}' },
    { status: 403, body: '{"error":"not the waker"}' },
    { status: 503, body: '{"error":"not the leader"}' },
    { status: 500, body: "<html>" },
  ];
  let i = 0;
  const d = await serve(t, () => replies[i++] as { status: number; body: string });
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: Date.now });
  assert.deepEqual(await c.ask("h"), { kind: "unknown", message: "no wake-enabled InferenceService has this host" });
  assert.deepEqual(await c.ask("h"), { kind: "refused", reason: "the daemon refused the waker's token (401: invalid token)" });
  assert.deepEqual(await c.ask("h"), { kind: "refused", reason: "the daemon refused the waker's token (403: not the waker)" });
  assert.deepEqual(await c.ask("h"), { kind: "unavailable", reason: "daemon answered 503: not the leader" });
  assert.deepEqual(await c.ask("h"), { kind: "unavailable", reason: "daemon answered 500" });
});

test("one call in flight per host; a Ready answer reused until it is older than the cache time", async (t) => {
  let now = 1_000;
  const d = await serve(t, () => ({ status: 200, body: ok({ state: "Ready" }), delayMs: 50 }));
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: () => now, readyCacheMs: 5_000 });
  const all = await Promise.all([c.ask("a"), c.ask("a"), c.ask("a"), c.ask("b")]);
  assert.equal(d.seen.length, 2, "a and b: one call each");
  assert.equal(all[0], all[1], "the same promise's answer");
  assert.equal(c.inFlight, 0);
  assert.equal(c.readyAnswer("a")?.state, "Ready");
  now += 4_999;
  assert.ok(c.readyAnswer("a"));
  now += 1;
  assert.equal(c.readyAnswer("a"), undefined);
  assert.ok(c.readyAnswer("b") === undefined);
  c.forget("a");
});

test("token file: missing, empty, two lines, huge -> refused without a call; a rotated symlink is followed", async (t) => {
  const d = await serve(t, () => ({ status: 200, body: ok() }));
  const file = tokenFile("first");
  const dir = dirname(file);
  const c = (f: string) => new DaemonClient({ daemonUrl: d.url, tokenFile: f, now: Date.now });
  assert.equal((await c(join(dir, "absent")).ask("h")).kind, "refused");
  writeFileSync(join(dir, "empty"), "\n");
  assert.match(((await c(join(dir, "empty")).ask("h")) as { reason: string }).reason, /empty/);
  writeFileSync(join(dir, "two"), "a\nb\n");
  assert.match(((await c(join(dir, "two")).ask("h")) as { reason: string }).reason, /more than one line/);
  writeFileSync(join(dir, "huge"), "x".repeat(70_000));
  assert.match(((await c(join(dir, "huge")).ask("h")) as { reason: string }).reason, /more than a token/);
  assert.equal(d.seen.length, 0);
  // a projected token: <dir>/token -> ..data/token, ..data swapped to a new directory on rotation
  writeFileSync(join(dir, "t1"), "one");
  writeFileSync(join(dir, "t2"), "two");
  symlinkSync(join(dir, "t1"), join(dir, "link"));
  const client = c(join(dir, "link"));
  await client.ask("h");
  rmSync(join(dir, "link"));
  symlinkSync(join(dir, "t2"), join(dir, "link"));
  await client.ask("h");
  assert.deepEqual(
    d.seen.map((s) => s.auth),
    ["Bearer one", "Bearer two"],
  );
});

test("a 401 after the token file rotated: read again and asked once more; refused only if the new token is refused too", async (t) => {
  const file = tokenFile("old");
  let accepted = "new";
  const d = await serve(t, (req) =>
    req.auth === `Bearer ${accepted}` ? { status: 200, body: ok() } : { status: 401, body: '{"error":"invalid token"}' },
  );
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: file, now: Date.now });
  assert.equal((await c.ask("h")).kind, "refused", "old token, file unchanged: one call, refused");
  assert.equal(d.seen.length, 1);
  writeFileSync(file, "new\n");
  assert.equal((await c.ask("h")).kind, "answer");
  accepted = "newer";
  writeFileSync(file, "newest\n");
  assert.equal((await c.ask("h")).kind, "refused");
  assert.deepEqual(
    d.seen.map((s) => s.auth),
    ["Bearer old", "Bearer new", "Bearer newest"],
    "a changed file is read before the call; a 401 with an unchanged file is not asked again",
  );
});

test("at most maxInFlight calls at once across hosts; the others wait their turn and are all answered", async (t) => {
  let open = 0;
  let most = 0;
  const d = await serve(t, async () => {
    open += 1;
    most = Math.max(most, open);
    await new Promise((r) => setTimeout(r, 20));
    open -= 1;
    return { status: 404, body: '{"error":"unknown"}' };
  });
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: Date.now, maxInFlight: 4 });
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => c.ask(`h${i}.example.com`)));
  assert.deepEqual(new Set(replies.map((r) => r.kind)), new Set(["unknown"]));
  assert.equal(d.seen.length, 40);
  assert.ok(most <= 4, `at most 4 in flight, saw ${most}`);
  assert.equal(c.running, 0);
  assert.equal(c.inFlight, 0);
});

test("a daemon that is not there: unavailable, no hang", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const c = new DaemonClient({ daemonUrl: `http://127.0.0.1:${port}`, tokenFile: tokenFile("tok"), now: Date.now, callTimeoutMs: 500 });
  const r = await c.ask("h");
  assert.equal(r.kind, "unavailable");
  assert.match((r as { reason: string }).reason, /daemon unreachable: ECONNREFUSED/);
});

test("a daemon that hangs: the call times out", async (t) => {
  const d = await serve(t, () => ({ status: 200, body: ok(), delayMs: 2_000 }));
  const c = new DaemonClient({ daemonUrl: d.url, tokenFile: tokenFile("tok"), now: Date.now, callTimeoutMs: 200 });
  const t0 = Date.now();
  const r = await c.ask("h");
  assert.ok(Date.now() - t0 < 1_500);
  assert.deepEqual(r, { kind: "unavailable", reason: "daemon unreachable: timed out" });
});
