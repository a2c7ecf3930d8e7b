// Canonical JSON and merge-patch computation of the status writer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson, createMergePatch } from "../../../src/act/scheduleStatus.ts";

test("canonical JSON ignores key order and undefined", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }),
    canonicalJson({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }),
  );
  assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }), "array order matters");
  assert.equal(canonicalJson(undefined), "null");
});

test("merge patch: changed set, removed null, nested recurse, arrays replaced, unchanged omitted", () => {
  const from = { running: 1, stopped: 0, nextTransition: "x", totals: { a: 1, b: 2 }, services: [{ name: "a" }] };
  const to = { running: 0, stopped: 0, totals: { a: 1, c: 3 }, services: [{ name: "a" }, { name: "b" }] };
  assert.deepEqual(createMergePatch(from, to), {
    running: 0,
    nextTransition: null,
    totals: { b: null, c: 3 },
    services: [{ name: "a" }, { name: "b" }],
  });
  assert.deepEqual(createMergePatch(to, to), {});
  assert.deepEqual(createMergePatch(undefined, { a: 1 }), { a: 1 });
});
