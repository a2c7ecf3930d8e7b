import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHost } from "../../../src/wake/host.ts";

test("a Host header becomes the lower-cased name without port or trailing dot", () => {
  assert.deepEqual(parseHost("LLM-ml.Example.COM:8080"), { ok: true, host: "llm-ml.example.com" });
  assert.deepEqual(parseHost("llm-ml.example.com."), { ok: true, host: "llm-ml.example.com" });
  assert.deepEqual(parseHost("  llm-ml.example.com  "), { ok: true, host: "llm-ml.example.com" });
});

test("hostile Host headers are answered, never forwarded", () => {
  const cases: [string | string[] | undefined, number][] = [
    [undefined, 400],
    ["", 400],
    ["   ", 400],
    ["x".repeat(10_240), 400],
    [`${"a".repeat(64)}.example.com`, 400], // a label longer than 63
    ["bad\u0000host", 400],
    ["bad\u001b[31mhost", 400],
    ["a b.example.com", 400],
    ["user@host.example.com", 400],
    ["host.example.com:99999999", 400],
    ["host.example.com/path", 400],
    [["a.example.com", "b.example.com"], 400],
    ["[::1]:8080", 404],
    ["[::1]", 404],
    ["[fe80::1%eth0]:80", 400],
    ["[not-ipv6]:80", 400],
    ["127.0.0.1:8080", 404],
    ["10.0.0.1", 404],
  ];
  for (const [raw, status] of cases) {
    const r = parseHost(raw);
    assert.equal(r.ok, false, String(JSON.stringify(raw)).slice(0, 60));
    if (!r.ok) assert.equal(r.status, status, String(JSON.stringify(raw)).slice(0, 60));
  }
});
