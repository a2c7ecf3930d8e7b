// The official `openai` client against the waker and the fake model server (the traffic
// simulator's OpenAI endpoints): a cold service is woken, and both a whole and a streamed
// completion arrive complete, with no retry and no error.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { StaticReadiness, TrafficSimulator } from "../../support/simulator.ts";
import { FakeDaemon, testWaker, until } from "./fake-daemon.ts";
import { fetchWithHost } from "../../support/hostFetch.ts";

const HOST = "llm-ml.example.com";

test("openai client through the waker: a held non-streamed and a streamed completion, then chat from a running service", async (t) => {
  const daemon = new FakeDaemon();
  await daemon.start();
  daemon.services.set(HOST, { namespace: "ml", name: "llm", state: "stopped" });
  const readiness = new StaticReadiness();
  readiness.set("ml/llm", true);
  const sim = new TrafficSimulator(readiness, { chunkDelayMs: 10 });
  const simUrl = await sim.listen(0);
  const { waker, metrics } = await testWaker(daemon.url, `${simUrl}/v1/namespaces/{namespace}/inferenceservices/{name}`);
  t.after(async () => {
    await waker.close(0);
    await daemon.stop();
    await sim.close();
  });
  const client = new OpenAI({
    apiKey: "user-key",
    baseURL: `http://127.0.0.1:${waker.port}/v1`,
    fetch: fetchWithHost(HOST),
    maxRetries: 0,
    timeout: 20_000,
  });
  // the service starts some time after the first request arrives: both requests are held until then
  const whole = client.completions.create({ model: "llm", prompt: "Say something" });
  const streamed = client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "hi" }], stream: true });
  await until("both held", () => waker.held === 2);
  await new Promise((r) => setTimeout(r, 150));
  daemon.services.get(HOST)!.state = "ready";

  const completion = await whole;
  assert.equal(completion.object, "text_completion");
  assert.equal(completion.choices[0]?.text, "The model woke up and answered your request.");
  assert.equal(completion.choices[0]?.finish_reason, "stop");

  const parts: string[] = [];
  let finish: string | null | undefined;
  for await (const chunk of await streamed) {
    parts.push(chunk.choices[0]?.delta?.content ?? "");
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(parts.join(""), "The model woke up and answered your request.");
  assert.ok(parts.filter((p) => p !== "").length >= 9, "one chunk a word");
  assert.equal(finish, "stop");

  // running now: forwarded at once, streamed text completion and whole chat
  const chat = await client.chat.completions.create({ model: "llm", messages: [{ role: "user", content: "again" }] });
  assert.equal(chat.choices[0]?.message.content, "The model woke up and answered your request.");
  let text = "";
  for await (const c of await client.completions.create({ model: "llm", prompt: "x", stream: true, max_tokens: 4 }))
    text += c.choices[0]?.text ?? "";
  assert.equal(text, "The model woke up");

  assert.equal(daemon.episodes, 1);
  assert.equal(await metrics.value("kserve_reclaimer_waker_forwarded_requests_total"), 4);
  assert.equal(sim.core.report().find((r) => r.target === "ml/llm")?.servedTotal, 4);
  await until("nothing held", () => waker.held === 0 && waker.timers === 0);
});
