// npm run build's esbuild bundle (scripts/bundle.ts), laid out as the image runs it: package.json
// beside dist/ in a temporary directory, and no node_modules anywhere above it. Building takes ~1 s.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import { BUNDLE_ENTRY, LAZY_PACKAGES, bundle } from "../../../scripts/bundle.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

let dir = "";
let dist = "";
let meta: Metafile;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "reclaimer-bundle-"));
  dist = join(dir, "dist");
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  meta = await bundle(dist);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [join(dist, BUNDLE_ENTRY), ...args], { cwd: dir, encoding: "utf8", timeout: 30_000 });
}

/** The inputs of an output file and of every chunk it imports statically, as paths relative to the repository. */
function inputsLoadedBy(output: string): string[] {
  const seen = new Set<string>();
  const inputs = new Set<string>();
  const visit = (out: string) => {
    if (seen.has(out)) return;
    seen.add(out);
    const o = meta.outputs[out];
    assert.ok(o, out);
    for (const i of Object.keys(o.inputs)) inputs.add(i);
    for (const imp of o.imports) if (imp.kind === "import-statement" && !imp.external) visit(imp.path);
  };
  visit(output);
  return [...inputs];
}

function outputOf(entry: string): string {
  const out = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === entry || Object.keys(o.inputs).includes(entry));
  assert.ok(out, entry);
  return out[0];
}

test("no node_modules is reachable from the bundle's directory", () => {
  for (let d = dir; d !== "/"; d = join(d, "..")) assert.ok(!existsSync(join(d, "node_modules")), d);
});

test("--version reads package.json beside dist/", () => {
  const r = cli("--version");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `kserve-reclaimer ${VERSION}\n`);
});

test("validate checks the example schedules", () => {
  const r = cli("validate", join(ROOT, "schedules"));
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^\d+ schedules valid in \d+ files\n$/);
});

test("plan works out holidays with the bundled date-holidays (loaded on first use)", () => {
  // Germany, Easter 2027: Good Friday (26 March) to Easter Monday (29 March) are all stopped
  const r = cli("plan", join(ROOT, "schedules", "german-holidays.yaml"), "--from", "2027-03-25", "--days", "6", "-o", "json");
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { schedules: { transitions: { at: string; state: string }[] }[] };
  const running = plan.schedules[0]!.transitions.filter((t) => t.state === "Running").map((t) => t.at.slice(0, 10));
  assert.deepEqual(running, ["2027-03-25", "2027-03-30"]);
});

test("run with a broken setting fails with the configuration error, not a crash", () => {
  const r = cli("run", "--idle-interval=soon");
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /idle-interval/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("waker --help", () => {
  const r = cli("waker", "--help");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: kserve-reclaimer waker --daemon-url URL/);
});

test("the waker's chunks do not include client-node; the rest of the CLI's do", () => {
  const waker = inputsLoadedBy(outputOf("src/cli/wakerEntry.ts"));
  assert.ok(
    waker.some((i) => i.startsWith("src/wake/")),
    waker.join(" "),
  );
  assert.deepEqual(
    waker.filter((i) => i.includes("node_modules/@kubernetes/")),
    [],
  );
  const main = inputsLoadedBy(outputOf("src/cli/main.ts"));
  assert.ok(main.some((i) => i.includes("node_modules/@kubernetes/client-node/")));
});

test("date-holidays, lezer-promql and node-forge are in lazy/*.cjs only, and load from there", () => {
  const chunks = Object.entries(meta.outputs).filter(([f]) => f.endsWith(".js"));
  for (const [f, o] of chunks) {
    for (const name of Object.keys(LAZY_PACKAGES)) {
      assert.ok(!Object.keys(o.inputs).some((i) => i.includes(`node_modules/${name}/`)), `${name} in ${relative(ROOT, f)}`);
    }
  }
  // as src/ loads them: createRequire(<a chunk>)("../lazy/<file>.cjs")
  const require = createRequire(join(dist, "chunks", "any.js"));
  const Holidays = require("../lazy/date-holidays.cjs") as new (country: string) => { getHolidays(year: number): { date: string }[] };
  assert.ok(new Holidays("DE").getHolidays(2027).some((h) => h.date.startsWith("2027-03-26")));
  const { parser } = require("../lazy/lezer-promql.cjs") as { parser: { parse(q: string): { topNode: { name: string } } } };
  assert.equal(parser.parse('sum(rate(x{a="b"}[5m]))').topNode.name, "PromQL");
  const forge = require("../lazy/node-forge.cjs") as { pki: { createCertificate(): unknown } };
  assert.equal(typeof forge.pki.createCertificate, "function");
});

test("the licences of the bundled packages ship beside it", () => {
  const notices = readFileSync(join(dist, "THIRD-PARTY-NOTICES.txt"), "utf8");
  for (const name of ["@kubernetes/client-node", "date-holidays", "node-forge", "zod"]) assert.match(notices, new RegExp(`^${name}@`, "m"));
});
