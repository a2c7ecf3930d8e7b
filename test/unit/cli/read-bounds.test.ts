// What validate and plan read: regular files and directories, and "-" for standard input, each at
// most MAX_FILE_BYTES and MAX_DOCUMENTS documents; a FIFO or a device is refused before it is opened.
// Every child process has a timeout, so that reading without a limit fails the test instead of
// hanging it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseManifests } from "../../../src/api/manifests.ts";

const ROOT = new URL("../../../", import.meta.url);
const TIMEOUT = 30_000;
const doc = (i: number) =>
  `---\napiVersion: reclaimer.dev/v1alpha1\nkind: ServingSchedule\nmetadata: {name: s${i}, namespace: ns}\nspec:\n  uptime: [{days: Mon-Fri, from: "08:00", to: "20:00"}]\n`;

function run(args: string[], stdin: "ignore" | number | string = "ignore") {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["src/cli/main.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: TIMEOUT,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    ...(typeof stdin === "string" ? { input: stdin } : { stdio: [stdin, "pipe", "pipe"] }),
  });
  assert.equal(r.signal, null, `${args.join(" ")}: killed after ${Date.now() - t0} ms`);
  return r;
}

function mkfifo(path: string): void {
  const r = spawnSync("mkfifo", [path]);
  assert.equal(r.status, 0, String(r.stderr));
}

test("validate and plan refuse /dev/zero and a FIFO without reading them: exit 2, one line", { timeout: 4 * TIMEOUT }, () => {
  const fifo = join(mkdtempSync(join(tmpdir(), "read-bounds-")), "pipe.yaml");
  mkfifo(fifo);
  for (const path of ["/dev/zero", fifo]) {
    for (const args of [
      ["validate", path],
      ["plan", "-f", path],
    ]) {
      const r = run(args);
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr.split("\n")[0],
        `kserve-reclaimer ${args[0]}: ${path}: not a regular file or directory (FIFOs and devices are not read; give - to read standard input)`,
      );
    }
  }
});

test("standard input: '-' reads it, with the same cap (/dev/zero as stdin stops at 1 MiB)", { timeout: 4 * TIMEOUT }, () => {
  const ok = run(["validate", "-"], doc(1));
  assert.deepEqual([ok.status, ok.stdout, ok.stderr], [0, "1 schedule valid in 1 file\n", ""]);
  const bad = run(["validate", "-"], doc(1).replace("Mon-Fri", "Mon-Fry"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^<stdin>:6: ns\/s1: spec\.uptime\[0\]\.days: must be /);
  const planned = run(["plan", "-f", "-", "--from", "2026-12-01T00:00Z", "--days", "1", "-o", "json"], doc(1));
  assert.equal(planned.status, 0, planned.stderr);
  assert.equal((JSON.parse(planned.stdout) as { schedules: unknown[] }).schedules.length, 1);
  const zero = openSync("/dev/zero", "r");
  try {
    const r = run(["validate", "-"], zero);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "<stdin>:1: -: -: larger than 1 MiB, the most read from one file: split it into smaller files\n");
  } finally {
    closeSync(zero);
  }
  const twice = run(["validate", "-", "-"], "");
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /^kserve-reclaimer validate: - \(standard input\) can be given only once\n/);
});

test("a file over 1 MiB is a problem of that file; the other files are still checked", { timeout: 2 * TIMEOUT }, () => {
  const dir = mkdtempSync(join(tmpdir(), "read-bounds-"));
  const big = join(dir, "a-big.yaml");
  let text = "";
  for (let i = 0; text.length <= 1024 * 1024; i++) text += doc(i);
  writeFileSync(big, text);
  writeFileSync(join(dir, "b-bad.yaml"), doc(1).replace("08:00", "8 am"));
  const r = run(["validate", dir]);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `${big}:1: -: -: larger than 1 MiB, the most read from one file: split it into smaller files\n` +
      `${join(dir, "b-bad.yaml")}:6: ns/s1: spec.uptime[0].from: must be a local time "HH:MM" from 00:00 to 23:59\n`,
  );
});

test("at most 1000 documents per file: the first 1000 are checked, the rest refused at the line of the 1001st", () => {
  let text = "";
  for (let i = 0; i < 1500; i++) text += doc(i);
  const t0 = performance.now();
  const r = parseManifests(text, "many.yaml");
  assert.equal(r.schedules.length, 1000);
  assert.deepEqual(r.problems, [
    {
      file: "many.yaml",
      line: 6001,
      name: "-",
      path: "",
      message: "more than 1000 YAML documents in one file, the most read: the rest is not checked; split the file",
    },
  ]);
  assert.ok(performance.now() - t0 < 20_000);
  const empties = parseManifests("---\n".repeat(200_000), "empty.yaml");
  assert.equal(empties.problems.length, 1);
  assert.equal(empties.problems[0]?.line, 1001);
});

test("one YAML syntax error per document: a Helm template is one line, the next document is still checked", () => {
  const helm =
    '{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include "x.fullname" . }}\n  labels:\n    {{- include "x.labels" . | nindent 4 }}\ndata: {a: [1, 2}\n{{- end }}\n';
  const r = parseManifests(`${helm}${doc(1).replace("Mon-Fri", "Mon-Fry")}`, "t.yaml");
  assert.equal(r.problems.filter((p) => p.line < 10).length, 1);
  assert.equal(r.problems.length, 2);
  assert.match(r.problems[1]?.message ?? "", /^must be "\*" or days/);
});

test("validate deploy/: the project's Helm templates give at most one line per document", { timeout: TIMEOUT }, () => {
  const r = run(["validate", "deploy"]);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 0, "the Helm templates are not YAML");
  const byFile = new Map<string, number>();
  for (const l of lines) {
    const file = l.slice(0, l.indexOf(":"));
    byFile.set(file, (byFile.get(file) ?? 0) + 1);
  }
  for (const [file, count] of byFile) {
    const documents =
      readFileSync(new URL(file, ROOT), "utf8")
        .split("\n")
        .filter((l) => /^---/.test(l)).length + 1;
    assert.ok(count <= documents, `${file}: ${count} lines for ${documents} documents`);
  }
});
