// The JSON logger: an Error keeps its causes (undici's "fetch failed" says why only in err.cause),
// and credentials never reach a log line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../../src/report/log.ts";

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
