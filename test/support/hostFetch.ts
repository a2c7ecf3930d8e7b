// A fetch for clients that take one (the openai client's `fetch` option) that sends the Host header
// of a service to another address, as a gateway in front of the waker would.
import { request } from "node:http";
import { Readable } from "node:stream";

/**
 * fetch over node:http with the Host header of a service: undici's fetch always sends the URL's
 * host, and the waker tells services apart by Host, as the gateway in front of it does.
 */
export function fetchWithHost(host: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: init?.method ?? "GET",
          setHost: false,
          agent: false,
          headers: { ...headers, host },
        },
        (res) => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(", ") : v);
          resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode ?? 0, headers: out }));
        },
      );
      req.on("error", reject);
      init?.signal?.addEventListener("abort", () => req.destroy(new Error("aborted")));
      if (init?.body !== undefined && init.body !== null && typeof init.body !== "string")
        reject(new Error("this test's fetch sends string bodies only"));
      req.end(typeof init?.body === "string" ? init.body : undefined);
    });
}
