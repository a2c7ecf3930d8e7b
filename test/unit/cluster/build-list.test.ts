// Every binary a test, benchmark or the demo uses must be in test/cluster/build's one list, which
// the runners build before any test starts: a binary missing from it only shows on a new machine,
// where a warm cache cannot hide it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const buildScript = readFileSync(join(root, "test", "cluster", "build"), "utf8");

function allComponents(): string[] {
  const m = /^ALL_COMPONENTS=\(([^)]*)\)$/m.exec(buildScript);
  assert.ok(m?.[1], "test/cluster/build declares ALL_COMPONENTS=(...)");
  return m[1].trim().split(/\s+/);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" || name === "results" ? [] : sources(path);
    return /\.ts$/.test(name) ? [path] : [];
  });
}

test("every component in the list has a build rule, and the default builds the whole list", () => {
  const list = allComponents();
  assert.deepEqual(list, ["hyperkube", "etcd", "kwok", "kserve-manager", "helm", "kustomize"]);
  for (const c of list) assert.match(buildScript, new RegExp(`^\\s+${c}\\) build_component ${c} `, "m"), `a case for ${c}`);
  assert.match(buildScript, /\|\| components=\("\$\{ALL_COMPONENTS\[@\]\}"\)/);
});

test("every binary that tests, benchmarks and the demo name is in the one list", () => {
  const list = new Set(allComponents());
  const named = new Set<string>();
  for (const file of [...sources(join(root, "test")), ...sources(join(root, "scripts"))]) {
    if (file === fileURLToPath(import.meta.url)) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/pinnedBinary\(["']([^"']+)["']\)/g)) named.add(m[1] as string);
    for (const m of text.matchAll(/join\((?:bins|binDir|bin), ["']([^"']+)["']\)/g)) named.add(m[1] as string);
    // the scripts that built tools on the side are gone: nothing may call them again
    assert.doesNotMatch(text, /build-helm/, `${file} refers to test/cluster/build-helm`);
  }
  assert.ok(
    named.has("kustomize") && named.has("helm") && named.has("etcd"),
    `found the binaries named in tests: ${[...named].join(", ")}`,
  );
  for (const name of named) assert.ok(list.has(name), `${name} is used by a test but not built by test/cluster/build`);
  assert.equal(existsSync(join(root, "test", "cluster", "build-helm")), false);
});
