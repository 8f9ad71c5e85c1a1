// chat_api.test.mjs — POST /v1/chat/completions as OpenAI clients meet it:
// the official `openai` npm client (streaming and not), and curl for the raw
// wire format, against a real `ragd serve` over fixtures/corpus.csv.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { startServe, postJson, metricValue } from './ragd.mjs';

let server;
test.before(async () => { server = await startServe(); });
test.after(async () => { assert.equal(await server.stop(), 0); });

const client = (opts = {}) => new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused",
                                           maxRetries: 0, ...opts });
const QUESTION = "What happened to the Swiss franc?";

test("non-streaming: a chat.completion grounded in the same passages as /ask", async () => {
  const c = await client().chat.completions.create({
    model: "ragd", messages: [{ role: "user", content: QUESTION }], top_k: 3, seed: 7,
  });
  assert.equal(c.object, "chat.completion");
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.model, "ragd");
  assert.equal(c.choices.length, 1);
  assert.equal(c.choices[0].message.role, "assistant");
  assert.equal(c.choices[0].finish_reason, "stop");
  const text = c.choices[0].message.content;
  for (const n of [1, 2, 3]) assert.ok(text.includes(`[${n}]`), `cites [${n}]: ${text}`);
  assert.ok(c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);

  const asked = await postJson(server.url + "/ask", { question: QUESTION, top_k: 3, seed: 7 });
  assert.deepEqual(c.sources.map((s) => s.heading), asked.body.sources.map((s) => s.heading));
  assert.equal(c.sources[0].heading, "Franc soars after central bank drops its cap");
  // The same pieces as /ask's answer, each followed by its citation.
  const pieces = text.split(/ \[\d+\](?: |$)/);
  assert.equal(pieces.pop(), "");
  assert.equal(pieces.join(" "), asked.body.answer);
});

test("streaming: role chunk with sources, content deltas, stop, usage; equals the whole answer", async () => {
  const messages = [{ role: "user", content: QUESTION }];
  const whole = await client().chat.completions.create({ model: "m1", messages, top_k: 4, seed: 11 });
  const stream = await client().chat.completions.create({
    model: "m1", messages, top_k: 4, seed: 11, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 4 + 3, `${chunks.length} chunks`);
  for (const ch of chunks) {
    assert.equal(ch.object, "chat.completion.chunk");
    assert.equal(ch.model, "m1");
    assert.equal(ch.id, chunks[0].id);
  }
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.deepEqual(chunks[0].sources.map((s) => s.heading), whole.sources.map((s) => s.heading));
  const content = chunks.slice(1).map((ch) => ch.choices[0]?.delta?.content ?? "").join("");
  assert.equal(content, whole.choices[0].message.content);
  const finish = chunks.filter((ch) => ch.choices[0]?.finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].choices[0].finish_reason, "stop");
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, whole.usage.completion_tokens);
});

test("the retrieval extension fields steer the search; content parts are read", async () => {
  const c = await client().chat.completions.create({
    model: "ragd", topic: "sports", mode: "lexical", top_k: 2,
    messages: [
      { role: "system", content: "You are helpful." },
      { role: "user", content: "Tell me about the franc." },
      { role: "assistant", content: "It soared [1]." },
      { role: "user", content: [{ type: "text", text: "And the marathon" }, { type: "text", text: "record?" }] },
    ],
  });
  // top_k is an upper bound: lexical mode returns only passages that share a
  // word with the question once stopwords are dropped.
  assert.ok(c.sources.length >= 1 && c.sources.length <= 2, `${c.sources.length} sources`);
  for (const s of c.sources) assert.equal(s.topic, "sports");
  assert.equal(c.sources[0].heading, "Marathon runner breaks national record");
});

test("bad requests get OpenAI-shaped 4xx errors", async () => {
  const cases = [
    [{ model: "m" }, 422, "messages", /'messages' is required/],
    [{ messages: "hi" }, 400, "messages", /must be an array/],
    [{ messages: [] }, 422, "messages", /must not be empty/],
    [{ messages: [{ role: "system", content: "x" }] }, 422, "messages", /no user message/],
    [{ messages: [{ role: "user", content: 5 }] }, 400, "messages", /content must be a string/],
    [{ messages: [{ role: "robot", content: "x" }] }, 422, "messages", /role 'robot'/],
    [{ messages: [{ role: "user", content: "   " }] }, 422, "messages", /last user message: 'question' must not be empty/],
    [{ messages: [{ role: "user", content: "x" }], stream: "yes" }, 400, "stream", /'stream'/],
    [{ messages: [{ role: "user", content: "x" }], top_k: 0 }, 422, "top_k", /between 1 and/],
    [{ messages: [{ role: "user", content: "x" }], topic: "weather" }, 422, "topic", /unknown topic 'weather'/],
    [{ messages: [{ role: "user", content: "x" }], n: 2 }, 422, "n", /n = 1/],
    [{ messages: [{ role: "user", content: "x".repeat(5000) }] }, 413, "messages", /limit is 4096/],
  ];
  for (const [body, status, param, message] of cases) {
    const r = await postJson(server.url + "/v1/chat/completions", body);
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
    assert.deepEqual(Object.keys(r.body.error).sort(), ["code", "message", "param", "type"]);
    assert.equal(r.body.error.type, "invalid_request_error");
    assert.equal(r.body.error.param, param);
    assert.match(r.body.error.message, message);
  }
  // The HTTP layer's own refusal before the route runs keeps ragd's shape
  // (as on every /v1 route); its error.message is what the clients show.
  const huge = await fetch(server.url + "/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "x".repeat(300 * 1024) }] }),
  });
  assert.equal(huge.status, 413);
  const hb = await huge.json();
  assert.equal(hb.error.code, "payload_too_large");
  assert.match(hb.error.message, /./);
  const notJson = await fetch(server.url + "/v1/chat/completions", { method: "POST", body: "{", headers: { "Content-Type": "application/json" } });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).error.type, "invalid_request_error");
  // …and the openai client raises its typed error with the server's message.
  await assert.rejects(
    client().chat.completions.create({ model: "m", messages: [{ role: "system", content: "x" }] }),
    (e) => e instanceof OpenAI.UnprocessableEntityError && /no user message/.test(e.message));
  // Nothing was changed by the bad requests: the same question, the same answer.
  const again = await postJson(server.url + "/ask", { question: QUESTION, top_k: 3, seed: 7 });
  assert.equal(again.status, 200);
  assert.equal(again.body.sources[0].heading, "Franc soars after central bank drops its cap");
});

test("raw wire format (curl): data-only SSE events, the last one [DONE]", () => {
  const body = JSON.stringify({ model: "ragd", stream: true, top_k: 2, seed: 3,
                                messages: [{ role: "user", content: "cricket series" }] });
  const r = spawnSync("curl", ["-sS", "-N", "-D", "-", "-H", "Content-Type: application/json",
                               "--data-binary", body, server.url + "/v1/chat/completions"],
                      { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const [head, wire] = r.stdout.split("\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, /\r\ncontent-type: text\/event-stream/i);
  const events = wire.replace(/\r\n/g, "\n").split("\n\n").filter((e) => e.trim());
  for (const e of events) assert.match(e, /^data: [^\n]+$/, `one data line per event: ${e.slice(0, 60)}`);
  assert.equal(events[events.length - 1], "data: [DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  assert.equal(chunks.length, 1 + 2 + 1);   // role, one piece per source, stop
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.equal(chunks[0].sources.length, 2);
  assert.equal(chunks[3].choices[0].finish_reason, "stop");
  assert.deepEqual(chunks[3].choices[0].delta, {});
});

test("API key and max-inflight: the client's 401 error, 429 in OpenAI's shape, Retry-After kept", async () => {
  const keyed = await startServe(["--api-key", "k-123"]);
  try {
    const base = keyed.url + "/v1";
    await assert.rejects(
      new OpenAI({ baseURL: base, apiKey: "wrong", maxRetries: 0 }).chat.completions.create(
        { model: "m", messages: [{ role: "user", content: "franc" }] }),
      (e) => e instanceof OpenAI.AuthenticationError && e.error.code === "unauthorized");
    const ok = await new OpenAI({ baseURL: base, apiKey: "k-123", maxRetries: 0 }).chat.completions.create(
      { model: "m", messages: [{ role: "user", content: "franc" }], top_k: 1 });
    assert.equal(ok.sources.length, 1);
  } finally {
    assert.equal(await keyed.stop(), 0);
  }
  const full = await startServe(["--max-inflight", "1", "--workers", "1", "--llm-token-delay-ms", "1000"]);
  const hold = new AbortController();
  try {
    const slow = JSON.stringify({ model: "m", stream: true, top_k: 50, messages: [{ role: "user", content: "hockey" }] });
    const ask = () => fetch(full.url + "/v1/chat/completions", { method: "POST", body: slow, signal: hold.signal,
                                                               headers: { "Content-Type": "application/json" } });
    assert.equal((await ask()).status, 200);
    const refused = await Promise.race([ask(), ask()]);   // one queued, one refused
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    const e = (await refused.json()).error;
    assert.equal(e.type, "rate_limit_error");
    assert.match(e.message, /too many questions in flight/);
    hold.abort();
    // The client that left is counted on this route.
    let cancelled = 0;
    for (let i = 0; i < 200 && cancelled < 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      cancelled = await metricValue(full.url, "ragd_requests_cancelled_total", 'route="/v1/chat/completions"');
    }
    assert.ok(cancelled >= 1);
  } finally {
    hold.abort();
    assert.equal(await full.stop(), 0);
  }
});
