// npm test runs Biome (biome.json); this proves its configuration still refuses the daemon's worst
// habit, a promise nobody handles: a rejection there used to exit the process for every namespace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const biome = join(root, "node_modules", ".bin", "biome");

/** Lints `code` with this repository's biome.json, as if it were the file `path` of it. */
function lint(path: string, code: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "lint-"));
  try {
    copyFileSync(join(root, "biome.json"), join(dir, "biome.json"));
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), code);
    const r = spawnSync(biome, ["lint", "--vcs-enabled=false", path], { cwd: dir, encoding: "utf8" });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const flush = 'async function flush(): Promise<void> {\n  throw new Error("x");\n}\n';

test("a floating promise in src/ fails the lint", () => {
  const r = lint("src/daemon/example.ts", `${flush}export function tick(): void {\n  flush();\n}\n`);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /noFloatingPromises/);
});

test("`void promise` in src/ fails the lint too: a rejection needs a .catch that reports it", () => {
  const r = lint("src/daemon/example.ts", `${flush}export function tick(): void {\n  void flush();\n}\n`);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /noVoid/);
});

test("a promise handled with .catch passes", () => {
  const r = lint("src/daemon/example.ts", `${flush}export function tick(log: (e: unknown) => void): void {\n  flush().catch(log);\n}\n`);
  assert.equal(r.status, 0, r.out);
});
