// The report server names the address and the reason when it cannot listen, as a typed error the
// CLI turns into one line (exit 1), instead of a bare EADDRINUSE from deep inside node:net.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ListenError, startReportServer, type ReportServerOptions } from "../../../src/report/http.ts";

const options: ReportServerOptions = {
  metrics: { contentType: "text/plain", render: async () => "" },
  health: () => ({ ok: true, problems: [] }),
  ready: () => ({ ok: true, problems: [] }),
  host: "127.0.0.1",
  port: 0,
};

test("a port in use is a ListenError naming the address", async (t) => {
  const first = await startReportServer(options);
  t.after(() => first.close());
  await assert.rejects(startReportServer({ ...options, port: first.port }), (error: unknown) => {
    assert.ok(error instanceof ListenError);
    assert.equal(error.message, `cannot listen on 127.0.0.1:${first.port}: address in use`);
    assert.equal(error.code, "EADDRINUSE");
    return true;
  });
});

test("an address that is not this host's is a ListenError too", async () => {
  await assert.rejects(startReportServer({ ...options, host: "192.0.2.1" }), (error: unknown) => {
    assert.ok(error instanceof ListenError);
    assert.match(error.message, /^cannot listen on 192\.0\.2\.1:0: address not available on this host$/);
    return true;
  });
});
