// The JSON logger: an Error keeps its causes (undici's "fetch failed" says why only in err.cause),
// credentials never reach a log line, and lines are batched per turn without losing any at exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { batchedWriter, createLogger } from "../../../src/report/log.ts";

function lines(f: (log: ReturnType<typeof createLogger>) => void): Record<string, unknown>[] {
  const out: string[] = [];
  f(createLogger("debug", (l) => out.push(l)));
  return out.map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("an Error is logged with its cause chain and codes", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:6443"), { code: "ECONNREFUSED" });
  const [entry] = lines((log) => log.warn("watch failed", { err: new TypeError("fetch failed", { cause: refused }) }));
  assert.deepEqual(entry?.err, {
    name: "TypeError",
    message: "fetch failed",
    cause: { name: "Error", message: "connect ECONNREFUSED 10.0.0.1:6443", code: "ECONNREFUSED" },
  });
});

test("credential fields and user:password@ in URLs are redacted", () => {
  const [entry] = lines((log) =>
    log.info("connecting", { token: "abc", prometheusPassword: "hunter2", url: "https://bob:hunter2@prom:9090/api", ok: "plain" }),
  );
  assert.equal(entry?.token, "<redacted>");
  assert.equal(entry?.prometheusPassword, "<redacted>");
  assert.equal(entry?.url, "https://<redacted>@prom:9090/api");
  assert.equal(entry?.ok, "plain");
});

test("lines of one turn are written together, in order, at the next; what is pending can be flushed at once", async () => {
  const writes: string[] = [];
  const w = batchedWriter((t) => writes.push(t));
  w.write("a\n");
  w.write("b\n");
  assert.deepEqual(writes, [], "nothing is written in the same turn");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ["a\nb\n"]);
  w.write("c\n");
  const flushed: string[] = [];
  w.flush((t) => flushed.push(t));
  assert.deepEqual(flushed, ["c\n"]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ["a\nb\n"], "a flushed line is not written again");
});

test("no line is lost when the process exits or crashes in the turn it logged", () => {
  const logModule = new URL("../../../src/report/log.ts", import.meta.url).href;
  for (const [how, code] of [
    ["process.exit(3)", 3],
    ["throw new Error('boom')", 1],
  ] as const) {
    const script = `import { createLogger } from ${JSON.stringify(logModule)};
const log = createLogger("info");
for (let i = 0; i < 500; i++) log.info("line", { i });
${how};`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, code, r.stderr.slice(-500));
    const logged = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(
      logged,
      Array.from({ length: 500 }, (_, i) => i),
      how,
    );
  }
});
