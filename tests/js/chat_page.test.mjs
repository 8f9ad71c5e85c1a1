// chat_page.test.mjs — GET /chat as a person meets it: real headless Chromium
// against a real `ragd serve` on loopback. The mock LLM sends one piece per
// source; --llm-token-delay-ms spaces them so the page can be watched (and
// stopped) mid-answer. Nothing here waits for a fixed time: every wait is for
// something the page or the server shows.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServe, postJson, metricValue, launchBrowser, corpusHeadings, ARTIFACT_DIR } from './ragd.mjs';

const TOPICS = corpusHeadings();
let browser;
test.before(async () => { browser = await launchBrowser(); });
test.after(async () => { await browser.close(); });

async function openChat(server) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(server.url + "/chat");
  return { page, problems };
}

// Record the answer's text length at every change, until the turn is done.
async function watchAnswer(page) {
  await page.evaluate(() => {
    window.__lengths = [];
    new MutationObserver(() => {
      const a = document.querySelector(".turn:last-of-type .answer");
      const state = document.querySelector(".turn:last-of-type .state");
      if (a && !(state && /^Answered/.test(state.textContent))) window.__lengths.push(a.textContent.length);
    }).observe(document.getElementById("conversation"), { subtree: true, childList: true, characterData: true });
  });
}

async function askOnPage(page, question) {
  await page.getByLabel("Your question").fill(question);
  await page.getByLabel("Your question").press("Enter");
}

const lastState = (page) => page.locator(".turn").last().locator(".state");
const cardHeadings = (page) => page.locator(".turn").last().locator(".card .heading").allTextContents();

test("an answered question: it streams in, its sources are /ask's, citations link to cards", async () => {
  const server = await startServe(["--llm-token-delay-ms", "120"]);
  try {
    const { page, problems } = await openChat(server);
    await watchAnswer(page);
    const question = "What happened to the Swiss franc?";
    await askOnPage(page, question);
    await page.locator(".turn").last().locator(".state", { hasText: /^Answered/ }).waitFor();

    // The answer grew over several updates before it was done.
    const lengths = await page.evaluate(() => window.__lengths.filter((n, i, a) => i === 0 || n !== a[i - 1]));
    const growing = lengths.filter((n) => n > 0);
    assert.ok(growing.length >= 3, `the answer should grow over several updates, saw lengths ${lengths}`);
    for (let i = 1; i < growing.length; i++) assert.ok(growing[i] > growing[i - 1], `lengths ${growing}`);
    const final = (await page.locator(".turn").last().locator(".answer").textContent()).length;
    assert.ok(final >= growing[growing.length - 1]);

    // Same headings, in the same order, as POST /ask for that question.
    const asked = await postJson(server.url + "/ask", { question, top_k: 5, mode: "hybrid" });
    assert.equal(asked.status, 200);
    assert.deepEqual(await cardHeadings(page), asked.body.sources.map((s) => s.heading));
    assert.equal(asked.body.sources[0].heading, "Franc soars after central bank drops its cap");

    // Every citation marker links to a card of this answer; the words are marked.
    const cites = page.locator(".turn").last().locator("a.cite");
    assert.equal(await cites.count(), 5, "the mock cites each of its five sources once");
    for (const href of await cites.evaluateAll((as) => as.map((a) => a.getAttribute("href")))) {
      assert.equal(await page.locator(href).count(), 1, `citation ${href} has its card`);
    }
    const marks = await page.locator(".turn").last().locator(".card").first().locator("mark").allTextContents();
    assert.ok(marks.map((m) => m.toLowerCase()).includes("franc"), `marked: ${marks}`);
    await cites.first().click();
    assert.equal(await page.locator(".card.flash").count(), 1);

    // A second question keeps the first on screen.
    await askOnPage(page, "Who won the cricket series?");
    await lastState(page).filter({ hasText: /^Answered/ }).waitFor();
    assert.equal(await page.locator(".turn").count(), 2);
    assert.equal(await page.locator(".turn").first().locator(".question").textContent(), question);

    // The artifact: an answered question, at a laptop and a phone width.
    await page.locator(".turn").first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACT_DIR, "chat-answered.png") });
    await page.emulateMedia({ colorScheme: "dark" });
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
                    "rgb(247, 247, 248)", "dark by prefers-color-scheme");
    await page.screenshot({ path: path.join(ARTIFACT_DIR, "chat-answered-dark.png") });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACT_DIR, "chat-answered-phone.png") });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, "nothing is wider than a phone screen");
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("a topic picked from GET /topics limits the sources to it", async () => {
  const server = await startServe();
  try {
    const { page } = await openChat(server);
    const topics = await (await fetch(server.url + "/topics")).json();
    assert.deepEqual(topics.topics.map((t) => t.name).sort(), ["business", "sports"]);
    await page.locator("#topic option[value=sports]").waitFor({ state: "attached" });
    await page.getByLabel("Topic", { exact: true }).selectOption("sports");
    await page.getByLabel("Passages", { exact: true }).fill("4");
    await askOnPage(page, "franc markets oil gold prices");
    await lastState(page).filter({ hasText: /^Answered/ }).waitFor();
    const headings = await cardHeadings(page);
    assert.equal(headings.length, 4);
    for (const h of headings) assert.equal(TOPICS.get(h), "sports", `${h} is a sports article`);
    const metas = await page.locator(".turn").last().locator(".card .meta").allTextContents();
    for (const m of metas) assert.match(m, /· sports ·/);
    const asked = await postJson(server.url + "/ask",
                                 { question: "franc markets oil gold prices", top_k: 4, topic: "sports" });
    assert.deepEqual(headings, asked.body.sources.map((s) => s.heading));
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("Stop ends the answer and the server counts a cancelled request", async () => {
  const server = await startServe(["--llm-token-delay-ms", "400"]);
  try {
    const { page } = await openChat(server);
    const before = await metricValue(server.url, "ragd_requests_cancelled_total", 'route="/ask"');
    await page.getByLabel("Passages", { exact: true }).fill("10");
    await askOnPage(page, "What did the tennis star do?");
    // Mid-answer: the first piece is on screen, the answer not finished.
    await page.waitForFunction(() => document.querySelector(".turn .answer").textContent.length > 0);
    assert.doesNotMatch(await lastState(page).textContent(), /^Answered/);
    await page.getByRole("button", { name: "Stop" }).click();
    await lastState(page).filter({ hasText: "Stopped." }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Ask" }).isEnabled(), true);
    // The server notices at its next piece; wait for the count (bounded).
    let after = before;
    for (let i = 0; i < 200 && after <= before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await metricValue(server.url, "ragd_requests_cancelled_total", 'route="/ask"');
    }
    assert.equal(after, before + 1);
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("a 429 from a full server is said on the page with the server's message and Retry-After", async () => {
  // One worker and a queue of one: a running question and a queued one fill it.
  const server = await startServe(["--max-inflight", "1", "--workers", "1", "--llm-token-delay-ms", "1000"]);
  const hold = new AbortController();
  try {
    const slow = JSON.stringify({ question: "hockey league teams", top_k: 50, stream: true });
    const ask = () => fetch(server.url + "/ask", { method: "POST", signal: hold.signal, body: slow,
                                                    headers: { "Content-Type": "application/json" } });
    const running = await ask();
    assert.equal(running.status, 200);
    // Of two more, one is queued (its answer waits for the first) and one is
    // refused at once: the race settles with the refusal.
    const refused = await Promise.race([ask(), ask()]);
    assert.equal(refused.status, 429, "the server is full");
    const { page } = await openChat(server);
    await askOnPage(page, "Which team won the cricket?");
    const state = lastState(page).filter({ hasText: "busy" });
    await state.waitFor();
    const text = await state.textContent();
    assert.match(text, /The server is busy \(429\): too many questions in flight; retry shortly/);
    assert.match(text, /Try again in 1 s\./);
    assert.match(await state.getAttribute("class"), /error/);
    await page.close();
  } finally {
    hold.abort();
    assert.equal(await server.stop(), 0);
  }
});

test("401 → the page asks for the key, keeps it in sessionStorage, and answers", async () => {
  const server = await startServe(["--api-key", "s3cret-key"]);
  try {
    const { page } = await openChat(server);
    await askOnPage(page, "Who broke the marathon record?");
    const keyBox = page.getByLabel("API key");
    // The topic list's own 401 may show the key box before the answer's 401
    // arrives: wait for the turn to say it, not only for the box.
    await keyBox.waitFor();
    await lastState(page).filter({ hasText: /API key is needed/ }).waitFor();
    assert.match(await page.locator("#key-why").textContent(), /missing or wrong API key/);
    await keyBox.fill("s3cret-key");
    await keyBox.press("Enter");
    await lastState(page).filter({ hasText: /^Answered/ }).waitFor();
    assert.ok(await page.locator(".turn").last().locator(".card").count() > 0);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("ragd.apiKey")), "s3cret-key");
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // The key also unlocked the topic list.
    await page.locator("#topic option[value=business]").waitFor({ state: "attached" });
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("the page's SSE reader: CRLF and CR line ends, multi-line data, comments, an error event", async () => {
  const server = await startServe();
  try {
    const { page } = await openChat(server);
    const sources = JSON.stringify([{ id: 1, heading: "Heading <b>one</b>", date: "2015-01-02",
                                      topic: "business", score: 0.5, text: "franc & <script>x</script> text" }]);
    // What a proxy might make of ragd's stream: CRLF, a comment, data split over lines.
    const wire = [": keep-alive", "", "event: sources", `data: ${sources}`, "",
                  "event: token", "data: first line", "data: second line [1]", "",
                  "event: token\rdata:  and more\r\r",
                  "event: done", 'data: {"timings_ms":{"total":12.4}}', "", ""].join("\r\n");
    await page.route("**/ask", (route) => route.fulfill({ status: 200, contentType: "text/event-stream", body: wire }));
    await askOnPage(page, "what about the franc");
    await lastState(page).filter({ hasText: /^Answered in 12 ms/ }).waitFor();
    const answer = page.locator(".turn").last().locator(".answer");
    assert.equal(await answer.textContent(), "first line\nsecond line [1] and more");
    assert.equal(await answer.locator("a.cite").count(), 1);
    // Server text is text: the markup in it is shown, never run.
    assert.equal(await page.locator(".card .heading").textContent(), "Heading <b>one</b>");
    assert.equal(await page.locator(".card b, .card script").count(), 0);
    assert.deepEqual(await page.locator(".card mark").allTextContents(), ["franc"]);

    await page.unroute("**/ask");
    await page.route("**/ask", (route) => route.fulfill({ status: 200, contentType: "text/event-stream",
      body: 'event: sources\ndata: []\n\nevent: error\ndata: {"error":{"code":"bad_gateway","message":"the LLM failed"}}\n\n' }));
    await askOnPage(page, "again");
    await lastState(page).filter({ hasText: "The answer failed: the LLM failed" }).waitFor();
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("the server unreachable is said plainly", async () => {
  const server = await startServe();
  const { page } = await openChat(server);
  assert.equal(await server.stop(), 0);
  await askOnPage(page, "Anyone there?");
  const state = lastState(page).filter({ hasText: "Cannot reach the server" });
  await state.waitFor();
  assert.match(await state.textContent(), /Is ragd running\?/);
  await page.close();
});

test("the page is one small self-contained document", async () => {
  const server = await startServe();
  try {
    const res = await fetch(server.url + "/chat");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    assert.match(res.headers.get("content-security-policy"), /default-src 'none'/);
    const html = await res.text();
    assert.ok(Buffer.byteLength(html) < 60 * 1024, `${Buffer.byteLength(html)} bytes`);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, "nothing from another origin");
    assert.doesNotMatch(html, /innerHTML/, "server text never goes through innerHTML");
    const readme = await (await fetch(server.url + "/")).text();
    assert.match(readme, /href="\/chat"/, "the README links to the chat");
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
