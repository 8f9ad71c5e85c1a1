// chat_history.test.mjs — the earlier turns of a conversation reach a real
// LLM backend: ragd started with --llm openai against a stand-in
// OpenAI-compatible server (node:http, here) that records what it is sent,
// on serve and through a gateway and its model service. The mock LLM ignores
// history, so only a recording backend can show it arrives.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startServe, startGateway } from './ragd.mjs';

// The stand-in LLM: every request body kept; the answer streamed in two chunks.
function startFakeLlm() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      received.push({ path: req.url, body: JSON.parse(body) });
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      for (const piece of ["The franc rose", " sharply [1]."])
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}/v1`, received,
              close: () => new Promise((r) => server.close(r)) })));
}

const conversation = [
  { role: "system", content: "Talk like a pirate." },
  { role: "user", content: "What happened to the Swiss franc?" },
  { role: "assistant", content: "It soared after the cap went [1]." },
  { role: "user", content: "And what did exporters say?" },
];

async function checkHistory(start) {
  const llm = await startFakeLlm();
  const server = await start(llm.url);
  try {
    const ai = new OpenAI({ baseURL: server.url + "/v1", apiKey: "x", maxRetries: 0 });
    const c = await ai.chat.completions.create({ model: "ragd", messages: conversation, top_k: 2 });
    assert.equal(c.choices[0].message.content, "The franc rose sharply [1].");
    assert.equal(c.sources.length, 2);
    assert.equal(llm.received.length, 1);
    const { path, body } = llm.received[0];
    assert.equal(path, "/v1/chat/completions");
    const roles = body.messages.map((m) => m.role);
    assert.deepEqual(roles, ["system", "user", "assistant", "user"]);
    assert.notEqual(body.messages[0].content, "Talk like a pirate.", "ragd's rules, not the client's system message");
    assert.equal(body.messages[1].content, "What happened to the Swiss franc?");
    assert.equal(body.messages[2].content, "It soared after the cap went [1].");
    assert.match(body.messages[3].content, /Question: And what did exporters say\?/);
    assert.match(body.messages[3].content, /\[1\] /, "the last turn is the grounded question with its passages");
  } finally {
    assert.equal(await server.stop(), 0);
    await llm.close();
  }
}

test("serve: earlier turns go to the OpenAI-compatible LLM before the grounded question", () =>
  checkHistory((url) => startServe(["--llm", "openai", "--llm-url", url])));

test("gateway → model service: the turns travel over /llm_ask to the LLM", () =>
  checkHistory((url) => startGateway(["--llm", "openai", "--llm-url", url])));
