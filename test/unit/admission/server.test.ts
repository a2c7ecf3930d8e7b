// The webhook's HTTPS endpoint on a real socket: it answers reviews, refuses everything else with
// the right status, bounds the body, and serves a renewed certificate without restarting.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { connect, type PeerCertificate } from "node:tls";
import { issueCa, issueServing } from "../../../src/admission/certificates.ts";
import { reviewServingSchedule } from "../../../src/admission/review.ts";
import { MAX_REVIEW_BYTES, startWebhookServer, type ReviewResult, type WebhookServer } from "../../../src/admission/server.ts";
import { ListenError } from "../../../src/report/http.ts";

const NOW = Date.UTC(2026, 10, 30, 12);
const ca = issueCa(NOW);
const counted: [string, ReviewResult][] = [];
let server: WebhookServer;

before(async () => {
  server = await startWebhookServer({
    host: "127.0.0.1",
    port: 0,
    certificate: issueServing(ca, ["127.0.0.1"], NOW),
    review: (body) => reviewServingSchedule(body, NOW),
    counted: (kind, result) => counted.push([kind, result]),
  });
});
after(() => server.close());

type Reply = { status: number; body: string; headers: Record<string, unknown> };

function call(opts: { method?: string; path?: string; type?: string; body?: string | Buffer; caCert?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        method: opts.method ?? "POST",
        path: opts.path ?? "/validate",
        ca: opts.caCert ?? ca.caCert,
        headers: { "content-type": opts.type ?? "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const review = (spec: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u-1",
      operation: "CREATE",
      kind: { group: "reclaimer.dev", version: "v1alpha1", kind: "ServingSchedule" },
      object: { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name: "s", namespace: "n" }, spec },
    },
  });

test("POST /validate answers the review as JSON, counted by kind and result", async () => {
  counted.length = 0;
  const denied = await call({ body: review({ timeZone: "Nowhere/Atlantis", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] }) });
  assert.equal(denied.status, 200);
  assert.match(String(denied.headers["content-type"]), /^application\/json/);
  const out = JSON.parse(denied.body) as { response: { uid: string; allowed: boolean; status: { message: string } } };
  assert.equal(out.response.uid, "u-1");
  assert.equal(out.response.allowed, false);
  assert.match(out.response.status.message, /^spec\.timeZone: /);
  const allowed = await call({ body: review({ timeZone: "Europe/Berlin", uptime: [{ days: "Mon-Fri", from: "08:00", to: "20:00" }] }) });
  assert.equal((JSON.parse(allowed.body) as { response: { allowed: boolean } }).response.allowed, true);
  assert.deepEqual(counted, [
    ["ServingSchedule", "denied"],
    ["ServingSchedule", "allowed"],
  ]);
});

test("everything else is refused with its own status and a line saying what to send", async () => {
  counted.length = 0;
  assert.equal((await call({ path: "/metrics", method: "GET" })).status, 404);
  const get = await call({ method: "GET" });
  assert.equal(get.status, 405);
  assert.equal(get.headers["allow"], "POST");
  assert.equal((await call({ type: "text/plain", body: "{}" })).status, 415);
  const notJson = await call({ body: "{not json" });
  assert.equal(notJson.status, 400);
  assert.match(notJson.body, /not JSON/);
  const notReview = await call({ body: JSON.stringify({ kind: "Pod" }) });
  assert.equal(notReview.status, 400);
  assert.match(notReview.body, /AdmissionReview/);
  assert.deepEqual(counted, [
    ["other", "malformed"],
    ["other", "malformed"],
  ]);
});

test("a body over the limit gets 413 without being read whole, and the server goes on", async () => {
  const big = Buffer.alloc(MAX_REVIEW_BYTES + 1, 0x20);
  const reply = await call({ body: big }).catch((err: unknown) => ({ status: -1, body: String(err), headers: {} }));
  // Either the 413 arrives, or the socket is cut while the client is still sending: both refuse it.
  assert.ok(reply.status === 413 || reply.status === -1, `${reply.status} ${reply.body.slice(0, 80)}`);
  assert.equal((await call({ method: "GET" })).status, 405, "still serving");
});

function peerCertificate(): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: server.port, ca: ca.caCert }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on("error", reject);
  });
}

test("a renewed certificate is served to new connections without a restart", async () => {
  const before = await peerCertificate();
  server.setCertificate(issueServing(ca, ["127.0.0.1"], NOW));
  const afterRenewal = await peerCertificate();
  assert.notEqual(afterRenewal.serialNumber, before.serialNumber);
  // A client that trusts another CA is refused at the handshake; the server is not harmed.
  await assert.rejects(call({ method: "GET", caCert: issueCa(NOW).caCert }), /certificate|self.signed|verify/i);
  assert.equal((await call({ method: "GET" })).status, 405);
});

test("a port in use is a ListenError naming --webhook-addr", async () => {
  await assert.rejects(
    startWebhookServer({
      host: "127.0.0.1",
      port: server.port,
      certificate: issueServing(ca, ["127.0.0.1"], NOW),
      review: () => {
        throw new Error("unused");
      },
    }),
    (err: unknown) => err instanceof ListenError && err.flag === "--webhook-addr" && /address in use/.test(err.message),
  );
});
