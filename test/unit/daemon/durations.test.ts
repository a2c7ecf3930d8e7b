// Every duration a person can set is bounded where it is parsed, and no timer can be armed past
// what setTimeout honours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadDaemonConfig } from "../../../src/daemon/config.ts";
import { systemClock } from "../../../src/daemon/clock.ts";
import { systemTimers } from "../../../src/sources/kube/runtime.ts";
import { parseBoundedDuration } from "../../../src/schedule/duration.ts";
import { parseFor } from "../../../src/cli/arguments.ts";
import { UsageError } from "../../../src/cli/io.ts";

function problems(args: string[], env: Record<string, string> = {}): string[] {
  try {
    loadDaemonConfig(args, env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

test("duration flags out of bounds fail at start-up, each with its range", () => {
  assert.deepEqual(problems(["--idle-interval", "600h"]), ["--idle-interval: must be between 1s and 1h, got 600h"]);
  assert.deepEqual(problems(["--prometheus-timeout", "600h"]), ["--prometheus-timeout: must be between 1s and 5m, got 600h"]);
  assert.deepEqual(problems(["--confirm-stop-timeout", "0s", "--confirm-start-timeout", "25h"]), [
    "--confirm-stop-timeout: must be positive (between 1s and 24h), got 0s",
    "--confirm-start-timeout: must be between 1s and 24h, got 25h",
  ]);
  assert.deepEqual(problems([], { RECLAIMER_IDLE_INTERVAL: "99999999999999999999h" }).length, 1, "from the environment too");
  assert.match(
    problems(["--idle-interval", "15 seconds"])[0] ?? "",
    /--idle-interval: must be a duration such as 15s, 2m or 1h30m between 1s and 1h, got "15 seconds"/,
  );
  assert.deepEqual(problems(["--idle-interval", "1h", "--prometheus-timeout", "1s"]), []);
});

test("bounded parse: names the setting and cuts what it quotes", () => {
  assert.deepEqual(parseBoundedDuration("x", "90s", { min: 1000, max: 100_000 }), { ok: true, ms: 90_000 });
  const r = parseBoundedDuration("x", "9".repeat(100_000), { min: 1000, max: 100_000 });
  assert.ok(!r.ok && r.message.length < 200);
});

test("wake --for: bounded, with a clear message instead of an exception from the date code", () => {
  assert.equal(parseFor("2h"), 7_200_000);
  assert.throws(
    () => parseFor("99999999999h"),
    (err: unknown) => err instanceof UsageError && /--for: must be between 1m and 8784h, got 99999999999h/.test(err.message),
  );
});

test("timers past 2^31-1 ms wait instead of firing at once", async () => {
  let fired = 0;
  const cancels = [
    systemClock.every(2 ** 31, () => fired++),
    systemClock.every(600 * 3_600_000, () => fired++),
    systemClock.at(Date.now() + 2 ** 32, () => fired++),
    systemClock.at(Number.NaN, () => fired++),
  ];
  const handle = systemTimers.setTimeout(() => fired++, 2 ** 31 + 5);
  await new Promise((r) => setTimeout(r, 60));
  for (const c of cancels) c();
  systemTimers.clearTimeout(handle);
  assert.equal(fired, 0);
});

test("systemTimers: an ordinary delay still fires, and a cleared one does not", async () => {
  let fired = 0;
  systemTimers.setTimeout(() => fired++, 5);
  const h = systemTimers.setTimeout(() => (fired += 10), 5);
  systemTimers.clearTimeout(h);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, 1);
});
