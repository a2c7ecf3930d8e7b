// Every binary a test, benchmark or the demo uses must be in test/cluster/build's one list, which
// the runners build before any test starts: a binary missing from it only shows on a new machine,
// where a warm cache cannot hide it. The one exception: ON_REQUEST_COMPONENTS, binaries only a
// benchmark needs (kube-green, run side by side with the daemon), kept out of the default build so
// that CI does not pay for them; a file that names one must build it with buildOnRequest("<name>").
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const buildScript = readFileSync(join(root, "test", "cluster", "build"), "utf8");

function list(name: string): string[] {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)$`, "m").exec(buildScript);
  assert.ok(m?.[1], `test/cluster/build declares ${name}=(...)`);
  return m[1].trim().split(/\s+/);
}

function allComponents(): string[] {
  return list("ALL_COMPONENTS");
}

function onRequestComponents(): string[] {
  return list("ON_REQUEST_COMPONENTS");
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
  assert.deepEqual(list, [
    "hyperkube",
    "etcd",
    "kwok",
    "kserve-manager",
    "helm",
    "kustomize",
    // test/integration/serverless.test.ts is in the default run, so CI builds Knative up front.
    "knative-controller",
    "knative-autoscaler",
  ]);
  for (const c of list) assert.match(buildScript, new RegExp(`^\\s+${c}\\) build_component ${c} `, "m"), `a case for ${c}`);
  assert.match(buildScript, /\|\| components=\("\$\{ALL_COMPONENTS\[@\]\}"\)/);
});

test("on-request components have a build rule and stay out of the default build", () => {
  const onRequest = onRequestComponents();
  assert.deepEqual(onRequest, ["kube-green"]);
  for (const c of onRequest) {
    assert.match(buildScript, new RegExp(`^\\s+${c}\\) build_component ${c} `, "m"), `a case for ${c}`);
    assert.ok(!allComponents().includes(c), `${c} is built on request, not by default (CI would pay for it)`);
  }
});

test("every binary that tests, benchmarks and the demo name is in the one list", () => {
  const list = new Set(allComponents());
  const onRequest = new Set(onRequestComponents());
  const named = new Set<string>();
  const requestedAnywhere = new Set<string>();
  for (const file of [...sources(join(root, "test")), ...sources(join(root, "scripts"))]) {
    if (file === fileURLToPath(import.meta.url)) continue;
    const text = readFileSync(file, "utf8");
    const here = new Set<string>();
    for (const m of text.matchAll(/pinnedBinary\(["']([^"']+)["']\)/g)) here.add(m[1] as string);
    for (const m of text.matchAll(/join\((?:bins|binDir|bin), ["']([^"']+)["']\)/g)) here.add(m[1] as string);
    // test/support/cluster.ts names its binaries through a bin("...") helper
    for (const m of text.matchAll(/\bbin\(["']([^"']+)["']\)/g)) here.add(m[1] as string);
    const requested = new Set([...text.matchAll(/buildOnRequest\(["']([^"']+)["']\)/g)].map((m) => m[1] as string));
    for (const name of requested) requestedAnywhere.add(name);
    for (const name of requested)
      assert.ok(onRequest.has(name), `${file} builds ${name} on request, but it is not in ON_REQUEST_COMPONENTS`);
    for (const name of here) {
      if (onRequest.has(name)) assert.ok(requested.has(name), `${file} uses ${name} without buildOnRequest("${name}")`);
      else named.add(name);
    }
    // the scripts that built tools on the side are gone: nothing may call them again
    assert.doesNotMatch(text, /build-helm/, `${file} refers to test/cluster/build-helm`);
  }
  assert.ok(
    named.has("kustomize") && named.has("helm") && named.has("etcd") && named.has("knative-controller") && named.has("knative-autoscaler"),
    `found the binaries named in tests: ${[...named].join(", ")}`,
  );
  for (const name of onRequest) assert.ok(requestedAnywhere.has(name), `${name} is built on request, but nothing requests it`);
  for (const name of named) assert.ok(list.has(name), `${name} is used by a test but not built by test/cluster/build`);
  assert.equal(existsSync(join(root, "test", "cluster", "build-helm")), false);
});
