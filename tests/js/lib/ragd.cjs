// ragd.cjs — what the JS tests share: a real `ragd serve` on loopback over
// the small corpus in fixtures/corpus.csv, plain HTTP helpers, and headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core).
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const BIN = process.env.RAGD_BIN;
const SOURCE_DIR = process.env.RAGD_SOURCE_DIR || path.resolve(__dirname, "../../..");
const ARTIFACT_DIR = process.env.RAGD_ARTIFACT_DIR || os.tmpdir();
const CORPUS = path.join(__dirname, "..", "fixtures", "corpus.csv");
const CHROMIUM = "/usr/bin/chromium";

if (!BIN) throw new Error("RAGD_BIN is not set (run these tests through ctest)");

// The corpus as its test knows it: heading → topic (fixtures/corpus.csv).
function corpusHeadings() {
  const out = new Map();
  for (const line of fs.readFileSync(CORPUS, "latin1").split("\r\n").slice(1)) {
    const m = line.match(/,\d+\/\d+\/\d{4},(.*),(business|sports)$/);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

let ingested = null;
// One data directory per test file, ingested once (every server opens it read-only).
function dataDir() {
  if (ingested) return ingested.data;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ragd-js-"));
  const data = path.join(dir, "data");
  const r = spawnSync(BIN, ["ingest", "--csv", CORPUS, "--data-dir", data, "--no-progress"],
                      { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ragd ingest failed (${r.status}): ${r.stderr}`);
  ingested = { dir, data };
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return data;
}

// Start `ragd serve` with extra flags; resolves once it logs "listening".
function startServe(extra = []) {
  return startRole(["serve", "--data-dir", dataDir(), "--no-ingest", ...extra]);
}

// `ragd model` and a `ragd gateway` over the test's store in front of it;
// resolves once the gateway is ready (its health check found the model).
async function startGateway(modelArgs = [], gatewayArgs = []) {
  const model = await startRole(["model", ...modelArgs]);
  let gateway;
  try {
    gateway = await startRole(["gateway", "--data-dir", dataDir(), "--model-url", model.url, ...gatewayArgs]);
    for (let i = 0; i < 400; i++) {
      if ((await fetch(gateway.url + "/ready")).status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await model.stop();
    throw e;
  }
  return { url: gateway.url, log: gateway.log,
           async stop() { const g = await gateway.stop(); const m = await model.stop(); return g || m; } };
}

function startRole(roleArgs) {
  const args = [...roleArgs, "--host", "127.0.0.1", "--port", "0"];
  const proc = spawn(BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    proc.on("exit", (code) => reject(new Error(`ragd ${roleArgs[0]} exited ${code} before listening:\n${log}`)));
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      log += chunk;
      const m = log.match(/"msg":"listening"[^\n]*"port":(\d+)/);
      if (m && !proc.listening) {
        proc.listening = true;
        proc.removeAllListeners("exit");
        const url = `http://127.0.0.1:${m[1]}`;
        resolve({
          url, proc, log: () => log,
          async stop() {
            if (proc.exitCode !== null) return proc.exitCode;
            const exited = new Promise((res) => proc.on("exit", (code, sig) => res(code ?? sig)));
            proc.kill("SIGTERM");
            const code = await exited;
            if (code !== 0) process.stderr.write(`ragd ${roleArgs[0]} exited ${code}; its log:\n${log}\n`);
            return code;
          },
        });
      }
    });
  });
}

async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body),
                                 headers: { "Content-Type": "application/json", ...headers } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

// The value of a counter series in /metrics text (0 when absent).
async function metricValue(base, name, labels) {
  const text = await (await fetch(base + "/metrics")).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{${labels}} `)) return Number(line.split(" ").pop());
  }
  return 0;
}

// A fresh headless Chromium with its own profile; close() removes the profile.
async function launchBrowser() {
  const { chromium } = require("playwright-core");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ragd-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

module.exports = { startServe, startGateway, postJson, metricValue, launchBrowser, corpusHeadings,
                   ARTIFACT_DIR, SOURCE_DIR };
