// The Dockerfile cannot be built here (no Docker engine): its essentials are checked as text, and
// the image's entrypoint is run as a plain process on the same layout the runtime stage copies
// (/app/package.json and /app/dist from `npm run build`, the esbuild bundle: no node_modules).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle } from "../../../scripts/bundle.ts";
import { readText, repoRoot } from "./helpers.ts";

type Stage = { from: string; name: string | undefined; lines: string[] };

function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const out: Stage[] = [];
  for (const l of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(l);
    if (from) out.push({ from: from[1] as string, name: from[2], lines: [] });
    else out.at(-1)?.lines.push(l);
  }
  return out;
}

const dockerfile = readText("Dockerfile");
const [build, runtime] = stages(dockerfile) as [Stage, Stage];
const pkg = JSON.parse(readText("package.json")) as { bin: Record<string, string>; scripts: Record<string, string> };
const exec = (stage: Stage, instr: string) =>
  stage.lines.filter((l) => l.toUpperCase().startsWith(`${instr} `)).map((l) => l.slice(instr.length + 1).trim());

test("multi-stage: a Node 24 build stage, a Node 24 runtime stage without the build tools", () => {
  assert.equal(stages(dockerfile).length, 2);
  assert.match(build.from, /^node:24([.-]|$)/);
  assert.match(runtime.from, /(nodejs24|node:24)/);
  const run = exec(build, "RUN").join("\n");
  assert.match(run, /npm ci\b/);
  assert.match(run, /npm run build\b/);
  assert.equal(pkg.scripts["build"], "node scripts/bundle.ts");
  // the runtime stage copies only the bundle and package.json: no node_modules
  const copies = exec(runtime, "COPY")
    .map((c) => c.replace(/^--from=\S+\s+/, "").split(/\s+/)[0])
    .sort();
  assert.deepEqual(copies, ["/src/dist", "/src/package.json"]);
});

test("runs as non-root uid 65532", () => {
  const user = exec(runtime, "USER");
  assert.equal(user.length, 1);
  assert.match(user[0] as string, /^65532(:65532)?$/);
});

test("the entrypoint is node running the package's bin (dist/cli/entry.js), the command is run", () => {
  const entrypoint = JSON.parse(exec(runtime, "ENTRYPOINT")[0] as string) as string[];
  const cmd = JSON.parse(exec(runtime, "CMD")[0] as string) as string[];
  assert.equal(entrypoint.length, 2);
  assert.match(entrypoint[0] as string, /\/node$/);
  assert.equal(entrypoint[1], pkg.bin["kserve-reclaimer"]);
  assert.deepEqual(cmd, ["run"]);
  assert.equal(exec(runtime, "WORKDIR")[0], "/app");
});

test(".dockerignore sends only what the build stage copies", () => {
  const ignore = readText(".dockerignore")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"));
  assert.equal(ignore[0], "**");
  for (const f of ["package.json", "package-lock.json", "tsconfig.json", "scripts/bundle.ts"]) assert.ok(ignore.includes(`!${f}`), f);
  assert.ok(ignore.includes("!src/**"));
  // and the build stage copies each of them
  const copied = exec(build, "COPY").join("\n");
  for (const f of ["package.json", "package-lock.json", "tsconfig.json", "scripts/bundle.ts", "src"]) assert.ok(copied.includes(f), f);
});

test("the image's entrypoint runs as a plain process on the runtime stage's layout", { timeout: 60_000 }, async () => {
  const app = mkdtempSync(join(tmpdir(), "reclaimer-image-"));
  try {
    await bundle(join(app, "dist"));
    copyFileSync(join(repoRoot, "package.json"), join(app, "package.json"));
    const entrypoint = JSON.parse(exec(runtime, "ENTRYPOINT")[0] as string) as string[];
    const help = spawnSync(process.execPath, [entrypoint[1] as string, "help"], { cwd: app, encoding: "utf8" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: kserve-reclaimer <command>/);
    const commands = [...help.stdout.matchAll(/^ {2}(\w+)\s/gm)].map((m) => m[1]);
    assert.ok(commands.includes("validate"), help.stdout);
    if (commands.includes("run")) {
      // the image's CMD with a broken setting fails with the config error, not a crash
      const bad = spawnSync(process.execPath, [entrypoint[1] as string, "run", "--idle-interval=soon"], {
        cwd: app,
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /idle-interval/);
    }
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});
