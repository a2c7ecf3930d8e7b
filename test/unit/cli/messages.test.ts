// Every message a newcomer meets at the command line (issue 12), one row each: the CLI as a child
// process, its exit code and the exact first line it prints. No cluster: a fake API server answers
// where one is needed, a closed port where none should.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle } from "../../../scripts/bundle.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const MAIN = join(ROOT, "src/cli/main.ts");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

type Result = { code: number | null; stdout: string; stderr: string };

function cli(args: string[], env: Record<string, string> = {}, home = emptyHome): Promise<Result> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("RECLAIMER_") && k !== "KUBECONFIG" && k !== "KUBERNETES_SERVICE_HOST"),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      env: { ...base, HOME: home, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "reclaimer-messages-"));
const emptyHome = join(dir, "home");
let api: Server;
let apiUrl = "";

function kubeconfig(name: string, server: string, namespace?: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}"${server.startsWith("http:") ? ", insecure-skip-tls-verify: true" : ""}}}]
contexts: [{name: c, context: {cluster: c, user: u${namespace ? `, namespace: ${namespace}` : ""}}}]
current-context: c
users: [{name: u, user: {token: abc}}]
`,
  );
  return path;
}

const noState = join(dir, "no-state.yaml");
writeFileSync(
  noState,
  `apiVersion: reclaimer.dev/v1alpha1
kind: ServingSchedule
metadata: {name: s, namespace: ns}
spec:
  timeZone: UTC
  exceptions:
  - {from: "2026-12-24", to: "2026-12-26"}
`,
);

before(async () => {
  // answers every request as an apiserver does for a missing object, naming the path it was asked
  api = createServer((req, res) => {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message: `${req.url} not found` }));
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

after(() => {
  api.close();
  rmSync(dir, { recursive: true, force: true });
});

type Row = {
  args: string[] | (() => string[]);
  env?: Record<string, string>;
  code: number;
  stream: "stdout" | "stderr";
  first: string | (() => string);
};

const ROWS: Record<string, Row> = {
  "a misspelt command suggests the closest": {
    args: ["valdiate", "x"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer: unknown command "valdiate": did you mean "validate"?',
  },
  "a misspelt flag suggests the closest": {
    args: ["plan", "--form", "2026-12-01", "-f", "schedules"],
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer plan: unknown flag --form: did you mean --from?",
  },
  "an unknown flag without a near one, and no quoting advice from parseArgs": {
    args: ["validate", '--x"y', "schedules"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer validate: unknown flag --x"y',
  },
  "a value that starts with a dash: how to write it, not 'ambiguous'": {
    args: ["plan", "-f", "schedules", "--days", "-3"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer plan: --days needs a value (for a value that starts with "-", write --days=-3)',
  },
  "a flag missing its value": {
    args: ["plan", "-f", "schedules", "--from"],
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer plan: --from needs a value",
  },
  "a typo does not hide the other problems of run (first of three)": {
    args: ["run", "--prometeus-url", "x", "--kube-qps", "abc", "--log-level", "loud"],
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer run: invalid configuration: unknown flag --prometeus-url: did you mean --prometheus-url?",
  },
  "booleans work bare and as =false; only the real problem is reported": {
    args: ["run", "--prometheus-insecure-skip-verify", "--dry-run=false", "--leader-elect=0", "--kube-qps", "0"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer run: invalid configuration: --kube-qps: "0" is not a positive number',
  },
  "a boolean flag with a value that is not one": {
    args: ["run", "--dry-run=yes"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer run: invalid configuration: --dry-run is true or false (or bare), not "yes"',
  },
  "=false on a boolean of another command": {
    args: ["validate", "--output=json", "schedules/office-hours.yaml"],
    code: 0,
    stream: "stdout",
    first: "[]",
  },
  "plan --cluster=false plans the files": {
    args: ["plan", "-f", "schedules/office-hours.yaml", "--cluster=false", "--from", "2026-12-01", "--days", "1", "-o", "json"],
    code: 0,
    stream: "stdout",
    first:
      '{"schedules":[{"name":"ml-team/office-hours","timeZone":"Europe/Berlin","initial":{"state":"Stopped","reason":"Schedule"},"transitions":[{"at":"2026-12-01T07:45:00.000+01:00","state":"Running","reason":"Warmup"},{"at":"2026-12-01T20:00:00.000+01:00","state":"Stopped","reason":"Schedule"}]}]}',
  },
  "RECLAIMER_DRY_RUN=yes names the variable and the accepted values": {
    args: ["run"],
    env: { RECLAIMER_DRY_RUN: "yes" },
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer run: invalid configuration: RECLAIMER_DRY_RUN: must be true, false, 1 or 0, not "yes"',
  },
  "a bad number from the environment names the variable": {
    args: ["run"],
    env: { RECLAIMER_KUBE_QPS: "abc" },
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer run: invalid configuration: RECLAIMER_KUBE_QPS: "abc" is not a positive number',
  },
  "0s from the environment: must be positive": {
    args: ["run"],
    env: { RECLAIMER_IDLE_INTERVAL: "0s", RECLAIMER_PROMETHEUS_INSECURE_SKIP_VERIFY: "1" },
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer run: invalid configuration: RECLAIMER_IDLE_INTERVAL: must be positive (between 1s and 1h), got 0s",
  },
  "wake --for 0s: must be positive": {
    args: ["wake", "ml/llama", "--for", "0s"],
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer wake: --for: must be positive (between 1m and 8784h), got 0s",
  },
  "a missing exception state is required, like other fields": {
    args: ["validate", noState],
    code: 1,
    stream: "stderr",
    first: `${noState}:7: ns/s: spec.exceptions[0].state: is required`,
  },
  "validate -o json: one list for CI annotations, exit code unchanged": {
    args: ["validate", "-o", "json", noState],
    code: 1,
    stream: "stdout",
    first: JSON.stringify([
      { file: noState, line: 7, name: "ns/s", path: "spec.exceptions[0].state", message: "is required", severity: "error" },
    ]),
  },
  "validate -o with an unknown format": {
    args: ["validate", "-o", "yaml", "schedules"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer validate: --output must be text or json, not "yaml"',
  },
  "no kubeconfig anywhere (status)": {
    args: ["status"],
    code: 1,
    stream: "stderr",
    first: () =>
      `kserve-reclaimer status: no kubeconfig found (looked in $KUBECONFIG, the in-cluster service account, ${emptyHome}/.kube/config); pass --kubeconfig or set KUBECONFIG`,
  },
  "no kubeconfig anywhere (run)": {
    args: ["run"],
    code: 2,
    stream: "stderr",
    first: () =>
      `kserve-reclaimer run: no kubeconfig found (looked in $KUBECONFIG, the in-cluster service account, ${emptyHome}/.kube/config); pass --kubeconfig or set KUBECONFIG`,
  },
  "run accepts --context like the other commands": {
    args: () => ["run", "--kubeconfig", kubeconfig("ctx.yaml", apiUrl), "--context", "nope"],
    code: 2,
    stream: "stderr",
    first: "kserve-reclaimer run: context nope not found in kubeconfig",
  },
  "without -n the namespace is the context's": {
    args: () => ["wake", "llama", "--kubeconfig", kubeconfig("ns.yaml", apiUrl, "ml-team")],
    code: 1,
    stream: "stderr",
    first: "kserve-reclaimer wake: InferenceService ml-team/llama not found",
  },
  "an unreachable API server: the address and the cause": {
    args: () => ["status", "--kubeconfig", kubeconfig("closed.yaml", "https://127.0.0.1:59999")],
    code: 1,
    stream: "stderr",
    first: "kserve-reclaimer status: cannot reach the Kubernetes API at https://127.0.0.1:59999: connect ECONNREFUSED 127.0.0.1:59999",
  },
  "--version": { args: ["--version"], code: 0, stream: "stdout", first: `kserve-reclaimer ${VERSION}` },
  "help run starts with the synopsis": { args: ["help", "run"], code: 0, stream: "stdout", first: "Usage: kserve-reclaimer run [flags]" },
  "completion bash": {
    args: ["completion", "bash"],
    code: 0,
    stream: "stdout",
    first: "# bash completion for kserve-reclaimer: source <(kserve-reclaimer completion bash)",
  },
  "completion zsh": { args: ["completion", "zsh"], code: 0, stream: "stdout", first: "#compdef kserve-reclaimer" },
  "completion for a shell it does not know": {
    args: ["completion", "fish"],
    code: 2,
    stream: "stderr",
    first: 'kserve-reclaimer completion: completion takes one shell: bash or zsh, not "fish"',
  },
};

describe("the CLI's messages", { concurrency: 8 }, () => {
  for (const [name, row] of Object.entries(ROWS)) {
    test(name, async () => {
      const args = typeof row.args === "function" ? row.args() : row.args;
      const r = await cli(args, row.env);
      const first = typeof row.first === "function" ? row.first() : row.first;
      assert.equal(r[row.stream].split("\n")[0], first, `${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.code, row.code, r.stderr);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at |ERR_PARSE_ARGS|To specify a positional|ambiguous/);
    });
  }
});

test("run lists all three problems of a command line with a typo in it", async () => {
  const r = await cli(["run", "--prometeus-url", "x", "--kube-qps", "abc", "--log-level", "loud"]);
  assert.deepEqual(r.stderr.trimEnd().split("\n"), [
    "kserve-reclaimer run: invalid configuration: unknown flag --prometeus-url: did you mean --prometheus-url?",
    'kserve-reclaimer run: invalid configuration: --kube-qps: "abc" is not a positive number',
    'kserve-reclaimer run: invalid configuration: --log-level: must be one of debug, info, warn, error, not "loud"',
  ]);
});

test("help shows per flag what it does, its default and (run) its variable", async () => {
  const run = (await cli(["help", "run"])).stdout;
  assert.match(
    run,
    /^ {2}--prometheus-timeout DURATION +timeout of one Prometheus query \(1s-5m\) \(default: 10s; env: RECLAIMER_PROMETHEUS_TIMEOUT\)$/m,
  );
  assert.match(run, /^ {2}--prometheus-insecure-skip-verify +.*\(env: RECLAIMER_PROMETHEUS_INSECURE_SKIP_VERIFY\)$/m);
  assert.match(run, /^ {2}--context NAME +kubeconfig context to use \(default: the current context; env: RECLAIMER_CONTEXT\)$/m);
  for (const command of ["validate", "plan", "status", "wake", "sleep"]) {
    const help = (await cli(["help", command])).stdout;
    assert.match(help, /\nFlags:\n/, command);
    assert.match(help, /^ {2}-h, --help +show this help$/m, command);
  }
  assert.match((await cli(["help", "validate"])).stdout, /^ {2}-o, --output FORMAT +text, or json: .*\(default: text\)$/m);
});

test("validate --exclude keeps the chart's templates out: no YAML errors for them", async () => {
  const all = await cli(["validate", "deploy"]);
  assert.match(all.stderr, /deploy\/helm\/.*\/templates\/.*YAML: /, "without --exclude the templates are YAML errors");
  const r = await cli(["validate", "deploy", "--exclude", "deploy/helm/**/templates/**"]);
  assert.doesNotMatch(r.stderr, /YAML/, r.stderr);
  assert.match(r.stderr.split("\n")[0] ?? "", /^no ServingSchedule found in \d+ files$/);
  assert.equal(r.code, 1);
});

test("an unreachable API server is logged once per failure, with the cause", async () => {
  const kc = kubeconfig("daemon.yaml", "https://127.0.0.1:59999");
  const child = spawn(process.execPath, [MAIN, "run", "--kubeconfig", kc, "--metrics-addr", "127.0.0.1:0"], {
    env: { ...process.env, HOME: emptyHome, RECLAIMER_LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  // until the first failure is logged (a fixed wait read nothing on a loaded machine), at most 30 s
  for (let waited = 0; waited < 30_000 && !stderr.includes("watch failed"); waited += 100) await new Promise((r) => setTimeout(r, 100));
  // and a little longer: a second failure must be a line of its own, not folded into the first
  await new Promise((r) => setTimeout(r, 1000));
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  const lines = stderr
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const failures = lines.filter((l) => /watch|fetch failed|ECONNREFUSED/.test(JSON.stringify(l)));
  assert.ok(failures.length > 0, stderr);
  for (const f of failures) {
    assert.equal(f.msg, "informer: watch failed, retrying", JSON.stringify(f));
    assert.match(String(f.error), /^fetch failed: connect ECONNREFUSED 127\.0\.0\.1:59999/);
  }
  assert.equal(lines.find((l) => l.msg === "starting")?.server, "https://127.0.0.1:59999");
});

test("completion bash completes commands and a command's flags", () => {
  const script = spawnSync(process.execPath, [MAIN, "completion", "bash"], { encoding: "utf8" }).stdout;
  const complete = (words: string) =>
    spawnSync(
      "bash",
      [
        "-c",
        `complete() { :; }; ${script}\nCOMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _kserve_reclaimer; echo "\${COMPREPLY[@]}"`,
      ],
      { encoding: "utf8" },
    ).stdout.trim();
  assert.equal(complete("kserve-reclaimer val"), "validate");
  assert.equal(complete("kserve-reclaimer plan --fr"), "--from");
  assert.equal(complete("kserve-reclaimer run --prometheus-insecure"), "--prometheus-insecure-skip-verify");
});

test("the built CLI on an unsupported Node says which version it needs", { skip: !existsSync("/usr/bin/node") }, async () => {
  const old = spawnSync("/usr/bin/node", ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = old.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 19)) return;
  // laid out as the published package: package.json beside dist/ (npm run build's bundle)
  const pkg = join(dir, "pkg");
  const out = join(pkg, "dist");
  mkdirSync(pkg);
  copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  await bundle(out);
  const r = spawnSync("/usr/bin/node", [join(out, "cli/entry.js"), "--version"], { encoding: "utf8" });
  assert.equal(r.stderr, `kserve-reclaimer needs Node.js ≥ 22.19 (found ${old})\n`);
  assert.equal(r.status, 1);
  const current = spawnSync(process.execPath, [join(out, "cli/entry.js"), "--version"], { encoding: "utf8" });
  assert.equal(current.stdout, `kserve-reclaimer ${VERSION}\n`, current.stderr);
});
