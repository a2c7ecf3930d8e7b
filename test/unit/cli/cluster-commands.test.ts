// status, wake, sleep and plan --cluster without a cluster: usage errors exit 2 before anything is
// read; kubeconfig and connection problems are one line on stderr, exit 1. (With a cluster:
// test/integration/cli-commands.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import type { CliIO } from "../../../src/cli/io.ts";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIO = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => Date.parse("2026-12-01T10:00:00Z") };
  const code = await main(args, io);
  return { code, out, err };
}

test("usage errors exit 2 with the reason", async () => {
  const cases: [string[], RegExp][] = [
    [["wake"], /wake takes exactly one InferenceService/],
    [["wake", "a/b/c"], /"a\/b\/c" is not <namespace>\/<name>/],
    [["wake", "ml/llama", "--for", "soon"], /--for: must be a duration/],
    [["sleep"], /sleep takes exactly one InferenceService/],
    [["sleep", "a", "b"], /sleep takes exactly one/],
    [["status", "-n", "a", "-A"], /give -n or -A, not both/],
    [["status", "ml/llama", "-A"], /-A lists every namespace/],
    [["status", "-o", "yaml"], /--output must be table or json/],
    [["status", "a", "b"], /at most one InferenceService/],
    [["status", "--prometheus-url", "localhost:9090", "ml/x"], /--prometheus-url must be an http\(s\) URL/],
    [["plan", "--cluster", "-f", "schedules"], /give -f <file\|dir> or --cluster, not both/],
    [["plan", "-n", "ml", "-f", "schedules"], /-n, -A, --kubeconfig and --context go with --cluster/],
    [["plan"], /plan needs -f <file\|dir> or --cluster/],
    [["status", "--bogus"], /unknown flag --bogus/],
  ];
  for (const [args, want] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, want, args.join(" "));
    assert.equal(r.out, "");
  }
});

test("kubeconfig and connection problems: one line, exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-kc-"));
  try {
    const kc = join(dir, "kubeconfig");
    writeFileSync(
      kc,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: c",
        '  cluster: {server: "https://127.0.0.1:59997"}',
        "users:",
        "- name: u",
        "  user: {token: abc}",
        "contexts:",
        "- name: ctx",
        "  context: {cluster: c, user: u, namespace: team}",
        "current-context: ctx",
        "",
      ].join("\n"),
    );
    const cases: [string[], RegExp][] = [
      [["status", "--kubeconfig", join(dir, "missing")], /^kserve-reclaimer status: kubeconfig file .*missing does not exist\n$/],
      [["wake", "ml/x", "--kubeconfig", kc, "--context", "other"], /^kserve-reclaimer wake: context other not found in kubeconfig\n$/],
      [
        ["sleep", "x", "--kubeconfig", kc],
        /^kserve-reclaimer sleep: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:59997: connect ECONNREFUSED 127\.0\.0\.1:59997\n$/,
      ],
      [["plan", "--cluster", "--kubeconfig", kc], /^kserve-reclaimer plan: cannot reach the Kubernetes API/],
      [["status", "-A", "--kubeconfig", kc], /^kserve-reclaimer status: cannot reach the Kubernetes API/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, want);
      assert.equal(r.err.split("\n").length, 2, "one line");
      assert.equal(r.out, "");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("help lists the cluster commands", async () => {
  const r = await cli("help");
  for (const c of ["status", "wake", "sleep"]) assert.match(r.out, new RegExp(`^  ${c} `, "m"));
  assert.match((await cli("help", "wake")).out, /--for DURATION +how long to keep it running: .*\(default: 2h\)/);
});
