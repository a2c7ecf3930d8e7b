// The webhook's flags: one certificate source with --webhook-addr, names that Kubernetes accepts,
// certificate hosts that are names or IPs; every problem is listed at start-up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadDaemonConfig } from "../../../src/daemon/config.ts";

function problems(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadDaemonConfig(args, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test("off by default; on with an address and exactly one certificate source", () => {
  const off = loadDaemonConfig([], {});
  assert.equal(off.webhookAddr, undefined);
  const self = loadDaemonConfig(
    ["--webhook-addr", ":9443", "--webhook-self-managed-ca", "--webhook-cert-hosts", "127.0.0.1, ::1,webhook.example.com"],
    {},
  );
  assert.equal(self.webhookSelfManagedCa, true);
  assert.deepEqual(self.webhookCertHosts, ["127.0.0.1", "::1", "webhook.example.com"]);
  assert.equal(self.webhookSecret, "kserve-reclaimer-webhook-tls");
  assert.equal(self.webhookConfiguration, "kserve-reclaimer");
  const files = loadDaemonConfig([], { RECLAIMER_WEBHOOK_ADDR: ":9443", RECLAIMER_WEBHOOK_CERT_DIR: "/certs" });
  assert.equal(files.webhookCertDir, "/certs");
});

test("a wrong combination or value is named with the flag (or variable) to fix", () => {
  assert.deepEqual(problems(["--webhook-addr", ":9443"]), [
    "--webhook-addr needs exactly one of --webhook-cert-dir (cert-manager) and --webhook-self-managed-ca",
  ]);
  assert.deepEqual(problems(["--webhook-addr", ":9443", "--webhook-cert-dir", "/c", "--webhook-self-managed-ca"]), [
    "--webhook-addr needs exactly one of --webhook-cert-dir (cert-manager) and --webhook-self-managed-ca",
  ]);
  assert.deepEqual(problems(["--webhook-self-managed-ca"]), ["--webhook-cert-dir and --webhook-self-managed-ca go with --webhook-addr"]);
  assert.match(
    problems(["--webhook-addr", "9443", "--webhook-self-managed-ca"]).join("\n"),
    /--webhook-addr: "9443" must be host:port or :port/,
  );
  assert.match(problems(["--webhook-addr", ":99999", "--webhook-self-managed-ca"]).join("\n"), /port 99999 is not in 0-65535/);
  assert.match(problems([], { RECLAIMER_WEBHOOK_SECRET: "Bad_Name" }).join("\n"), /^RECLAIMER_WEBHOOK_SECRET: must be a Kubernetes name/m);
  assert.match(problems(["--webhook-configuration", "x".repeat(300)]).join("\n"), /at most 253 characters/);
});

test("certificate hosts: a terminal escape, a URL or a thousand names are refused, shown cut and quoted", () => {
  const escaped = problems(["--webhook-cert-hosts", "ok.svc,\u001b[2Jevil"]).join("\n");
  assert.match(escaped, /--webhook-cert-hosts: "\\u001b\[2Jevil" is neither a DNS name nor an IP address/);
  assert.match(problems(["--webhook-cert-hosts", "https://a.b"]).join("\n"), /neither a DNS name nor an IP/);
  assert.match(
    problems(["--webhook-cert-hosts", Array.from({ length: 1000 }, (_, i) => `h${i}.svc`).join(",")]).join("\n"),
    /at most 32 names, not 1000/,
  );
  const long = problems(["--webhook-cert-hosts", "a".repeat(10_000)]).join("\n");
  assert.ok(long.length < 300, long.slice(0, 100));
});
