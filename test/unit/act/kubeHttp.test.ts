// KubeHttp against a local HTTP server: which users it serves, that it reuses one connection, and
// that credentials are asked of client-node again after refreshMs and at once after a 401, the
// warm-up before a boundary, and the metadata-only answer the patcher asks for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeHttp, KubeHttpError } from "../../../src/act/kubeHttp.ts";
import { AnnotationPatcher } from "../../../src/act/patcher.ts";
import { WriteLimiter } from "../../../src/act/writeLimiter.ts";

function kubeConfig(server: string, user: Record<string, unknown>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

async function withServer(
  handler: (req: IncomingMessage, body: string) => { status: number; body: string },
  fn: (url: string, seen: { auth: string | undefined; socket: number; body: string; url: string | undefined }[]) => Promise<void>,
) {
  const seen: { auth: string | undefined; socket: number; body: string; url: string | undefined }[] = [];
  const sockets = new Map<unknown, number>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
      seen.push({ auth: req.headers.authorization, socket: sockets.get(req.socket) ?? -1, body, url: req.url });
      const out = handler(req, body);
      res.writeHead(out.status, { "content-type": "application/json" }).end(out.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test("serves certificate and token users; exec, auth providers other than the token file, and basic auth go to client-node", () => {
  const server = "https://127.0.0.1:6443";
  assert.ok(KubeHttp.forConfig(kubeConfig(server, { token: "t" })));
  assert.ok(KubeHttp.forConfig(kubeConfig(server, { certData: "eA==", keyData: "eA==" })));
  assert.ok(KubeHttp.forConfig(kubeConfig(server, { authProvider: { name: "tokenFile", config: { tokenFile: "/nope" } } })));
  assert.equal(KubeHttp.forConfig(kubeConfig(server, { exec: { command: "x", apiVersion: "v1" } })), undefined);
  assert.equal(KubeHttp.forConfig(kubeConfig(server, { authProvider: { name: "oidc", config: {} } })), undefined);
  assert.equal(KubeHttp.forConfig(kubeConfig(server, { username: "a", password: "b" })), undefined);
  assert.equal(KubeHttp.forConfig({ makeApiClient: () => ({}) } as unknown as KubeConfig), undefined);
});

test("one keep-alive connection; credentials re-read after refreshMs and at once after a 401; errors carry status and body", async () => {
  let valid = "a";
  await withServer(
    (req) => {
      if (req.headers.authorization !== `Bearer ${valid}`) return { status: 401, body: '{"kind":"Status","code":401}' };
      if (req.url?.startsWith("/missing")) return { status: 404, body: '{"kind":"Status","reason":"NotFound","message":"gone"}' };
      return { status: 200, body: '{"ok":true}' };
    },
    async (url, seen) => {
      const kc = kubeConfig(url, { token: "a" });
      let now = 0;
      const http = KubeHttp.forConfig(kc, { refreshMs: 30_000, now: () => now });
      assert.ok(http);
      try {
        const res = await http.request("PATCH", "/x", '{"metadata":{}}', "application/merge-patch+json");
        assert.equal(res.body, '{"ok":true}');
        await http.request("GET", "/x");
        assert.deepEqual(
          seen.map((s) => s.socket),
          [0, 0],
        );
        assert.equal(seen[0]?.body, '{"metadata":{}}');

        // The token rotates (a re-read token file, a new exec credential): the cached header is
        // stale, the apiserver answers 401, and the request is sent again with fresh credentials.
        (kc.getCurrentUser() as { token: string }).token = "b";
        valid = "b";
        await http.request("GET", "/x");
        assert.deepEqual(
          seen.slice(2).map((s) => s.auth),
          ["Bearer a", "Bearer b"],
        );

        // Without a 401: the next request after refreshMs carries whatever client-node says now.
        (kc.getCurrentUser() as { token: string }).token = "c";
        await http.request("GET", "/x");
        assert.equal(seen.at(-1)?.auth, "Bearer b");
        now += 30_000;
        valid = "c";
        await http.request("GET", "/x");
        assert.equal(seen.at(-1)?.auth, "Bearer c");

        await assert.rejects(http.request("GET", "/missing"), (err: unknown) => {
          assert.ok(err instanceof KubeHttpError);
          assert.equal(err.code, 404);
          assert.match(err.body ?? "", /NotFound/);
          return true;
        });
      } finally {
        http.close();
      }
    },
  );
});

test("a network failure is a KubeHttpError without a status", async () => {
  const http = KubeHttp.forConfig(kubeConfig("http://127.0.0.1:1", { token: "t" }));
  assert.ok(http);
  await assert.rejects(http.request("GET", "/x"), (err: unknown) => err instanceof KubeHttpError && err.code === undefined);
  http.close();
});

test("warm() opens the connections a burst will use, once; the burst then makes no new connection; a dead server is no error", async () => {
  await withServer(
    () => ({ status: 200, body: '{"ok":true}' }),
    async (url, seen) => {
      const http = KubeHttp.forConfig(kubeConfig(url, { token: "t" }));
      assert.ok(http);
      try {
        await Promise.all([http.warm(4), http.warm(4)]);
        assert.deepEqual(
          seen.map((s) => s.url),
          ["/version", "/version", "/version", "/version"],
          "concurrent calls share one warm-up",
        );
        await http.warm(4);
        assert.equal(seen.length, 4, "warm connections are not opened again");
        await Promise.all(Array.from({ length: 4 }, () => http.request("PATCH", "/x", "{}", "application/merge-patch+json")));
        const burst = seen.slice(4);
        assert.equal(burst.length, 4);
        assert.ok(
          burst.every((s) => s.socket < 4),
          `the burst used the warm connections: ${burst.map((s) => s.socket)}`,
        );
        assert.equal(new Set(seen.map((s) => s.auth)).size, 1);
      } finally {
        http.close();
      }
    },
  );
  // worst values: nothing for NaN, negatives and zero; a huge count is capped
  await withServer(
    () => ({ status: 200, body: "{}" }),
    async (url, seen) => {
      const http = KubeHttp.forConfig(kubeConfig(url, { token: "t" }));
      assert.ok(http);
      try {
        for (const n of [Number.NaN, -5, 0, Number.NEGATIVE_INFINITY]) await http.warm(n);
        assert.equal(seen.length, 0);
        await http.warm(1e9);
        assert.equal(seen.length, 64, "at most 64 connections");
      } finally {
        http.close();
      }
    },
  );
  const dead = KubeHttp.forConfig(kubeConfig("http://127.0.0.1:1", { token: "t" }));
  assert.ok(dead);
  await dead.warm(8);
  dead.close();
});

test("the patch asks for metadata only, with plain JSON as the fallback", async () => {
  await withServer(
    (req) => ({ status: 200, body: JSON.stringify({ metadata: { resourceVersion: "7", annotations: { accept: req.headers.accept } } }) }),
    async (url) => {
      const patcher = new AnnotationPatcher({ kubeConfig: kubeConfig(url, { token: "t" }), limiter: new WriteLimiter() });
      const r = await patcher.patchAnnotations("ml", "llama", { "serving.kserve.io/stop": "true" });
      assert.equal(r.kind, "ok");
      assert.equal(r.kind === "ok" ? r.resourceVersion : "", "7");
      assert.equal(
        r.kind === "ok" ? r.annotations["accept"] : "",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
      );
    },
  );
});
