// The benchmarks' apiserver client, kept free of the daemon's and client-node's modules so that a
// process importing only this (test/bench/bare-patcher.ts, the ceiling) carries no more memory than
// a bare HTTPS client: a keep-alive admin client from a kubeconfig, a bounded parallel map, a sleep.
import { Agent, request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

/** An admin client from a kubeconfig with client-certificate files (what the test planes write). */
export class Api {
  readonly server: string;
  readonly agent: Agent;
  constructor(kubeconfigPath: string, maxSockets = 64) {
    const kc = parse(readFileSync(kubeconfigPath, "utf8")) as {
      clusters: { cluster: { server: string; "certificate-authority"?: string; "certificate-authority-data"?: string } }[];
      users: {
        user: { "client-certificate"?: string; "client-key"?: string; "client-certificate-data"?: string; "client-key-data"?: string };
      }[];
    };
    const cluster = kc.clusters[0]!.cluster;
    const user = kc.users[0]!.user;
    const file = (path: string | undefined, data: string | undefined) => (path ? readFileSync(path) : Buffer.from(data ?? "", "base64"));
    this.server = cluster.server;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets,
      ca: file(cluster["certificate-authority"], cluster["certificate-authority-data"]),
      cert: file(user["client-certificate"], user["client-certificate-data"]),
      key: file(user["client-key"], user["client-key-data"]),
    });
  }

  request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        `${this.server}${path}`,
        {
          method,
          agent: this.agent,
          headers: data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) },
          timeout: 60_000,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  async must(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.request(method, path, body, contentType);
      if (res.status < 300) return JSON.parse(res.body) as unknown;
      if ((res.status === 429 || res.status >= 500) && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        continue;
      }
      throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 500)}`);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs fn over items with at most `concurrency` in flight. */
export async function parallel<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export async function sleepMs(ms: number): Promise<void> {
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}
