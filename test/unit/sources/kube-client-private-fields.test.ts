// The daemon patches two private parts of @kubernetes/client-node (pinned exactly, 2.0.1):
// KubeConfig#createDispatcher, which reuseConnections (src/sources/kube/client.ts) wraps so one
// undici Agent serves every request, and Watch#requestTimeoutMs, which the informer raises so quiet
// watches are not aborted every 30 s. Neither is in the library's types, so an upgrade that renames
// or reshapes them compiles and then silently loses the patch: these tests fail instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpMethod, KubeConfig, RequestContext, Watch } from "@kubernetes/client-node";
import { reuseConnections } from "../../../src/sources/kube/client.ts";

type Dispatcher = { close(): Promise<void> };
type WithDispatcher = { createDispatcher: (cluster: unknown, agentOptions: Record<string, unknown>) => Dispatcher | undefined };

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

test("KubeConfig has createDispatcher(cluster, agentOptions), and it returns an undici dispatcher with close()", async () => {
  const kc = kubeConfig("https://127.0.0.1:6443") as unknown as WithDispatcher;
  assert.equal(typeof kc.createDispatcher, "function", "KubeConfig#createDispatcher is gone: reuseConnections patches nothing");
  assert.equal(kc.createDispatcher.length, 2, "createDispatcher no longer takes (cluster, agentOptions)");
  const dispatcher = kc.createDispatcher({ server: "https://127.0.0.1:6443" }, { rejectUnauthorized: false });
  assert.ok(dispatcher, "no dispatcher for TLS options: the Agent that reuseConnections caches is made elsewhere now");
  assert.equal(typeof dispatcher.close, "function");
  await dispatcher.close();
});

test("every request gets its dispatcher from createDispatcher, so reuseConnections' one Agent serves them all", async () => {
  const kc = kubeConfig("https://127.0.0.1:6443");
  reuseConnections(kc);
  const dispatcherOf = async () => {
    const ctx = new RequestContext("https://127.0.0.1:6443/apis", HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    return ctx.getDispatcher();
  };
  const first = await dispatcherOf();
  assert.ok(first, "applySecurityAuthentication set no dispatcher");
  assert.equal(await dispatcherOf(), first, "a second request got a new Agent: the createDispatcher patch no longer takes effect");
  await (first as unknown as Dispatcher).close();
});

test("Watch has a numeric requestTimeoutMs (30 s by default), and watch() aborts after it", async () => {
  // a server that answers a watch with headers and then nothing, as a quiet watch does
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const watch = new Watch(kubeConfig(`http://127.0.0.1:${port}`));
    const fields = watch as unknown as { requestTimeoutMs: unknown };
    assert.equal(typeof fields.requestTimeoutMs, "number", "Watch#requestTimeoutMs is gone: the informer's timeout is ignored");
    assert.equal(fields.requestTimeoutMs, 30_000);
    fields.requestTimeoutMs = 200;
    const started = Date.now();
    const ended = new Promise<unknown>((resolve) => {
      watch.watch("/apis/x/v1/things", {}, () => undefined, resolve).catch(resolve);
    });
    const err = await ended;
    const elapsed = Date.now() - started;
    assert.equal((err as { name?: unknown } | null)?.name, "TimeoutError", `ended with ${String(err)}`);
    assert.ok(elapsed >= 150 && elapsed < 5_000, `aborted after ${elapsed} ms, not after the 200 ms set`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
