// ragd.mjs — the JS tests' one view of a running ragd: start the real binary
// (RAGD_BIN, set by ctest) on a free loopback port, learn the port from its
// "listening" log line, stop it with SIGTERM and report its exit status; a
// `ragd serve` (or gateway in front of `ragd model`) over the small corpus in
// fixtures/corpus.csv; plain HTTP helpers; headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core) for the chat page.
// Node 18 must run it (Debian 12's nodejs): no import.meta.dirname, no fs.globSync.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.RAGD_SOURCE_DIR || resolvePath(here, '../..');
export const ARTIFACT_DIR = process.env.RAGD_ARTIFACT_DIR || tmpdir();
const CORPUS = join(here, 'fixtures', 'corpus.csv');
const CHROMIUM = '/usr/bin/chromium';

export const sharedDir = process.env.RAGD_SHARED_DIR || new URL('../../../shared', import.meta.url).pathname;

function ragdBin() {
  const bin = process.env.RAGD_BIN;
  if (!bin) throw new Error('RAGD_BIN is not set (run the JS tests through ctest)');
  return bin;
}

// GET url/ready until it answers 200: `ragd serve` on an empty data directory
// listens at once and answers 503 while its first ingest runs.
async function waitReady(url, deadline) {
  for (;;) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {
      /* not accepting yet */
    }
    if (Date.now() > deadline) throw new Error(`${url}/ready did not turn 200 in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Start `ragd <args…> --host 127.0.0.1 --port 0`; resolves to {url, stop()}
// once it listens and /ready answers 200.
export function startRagd(args, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(ragdBin(), [...args, '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    let settled = false;
    const exited = new Promise((done) => child.on('exit', (code, signal) => done(signal ? 128 : code)));
    const timer = setTimeout(() => fail(new Error(`ragd ${args[0]} did not listen in time; log:\n${log}`)), timeoutMs);
    function fail(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.on('error', fail);
    child.on('exit', () => fail(new Error(`ragd ${args[0]} exited before listening; log:\n${log}`)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /"msg":"listening".*?"port":(\d+)/.exec(log);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        const url = `http://127.0.0.1:${m[1]}`;
        const server = {
          url,
          log: () => log,
          // SIGTERM; resolves to the exit status (0 is a clean shutdown).
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        };
        waitReady(url, Date.now() + timeoutMs).then(
          () => resolve(server),
          (err) => {
            child.kill('SIGKILL');
            reject(new Error(`${err.message}; log:\n${log}`));
          },
        );
      }
    });
  });
}

// A folder with a three-article corpus in the real corpus's CSV format, for `ragd serve`.
export function tinyCorpus() {
  const dir = mkdtempSync(join(tmpdir(), 'ragd-js-'));
  const csv = join(dir, 'corpus.csv');
  writeFileSync(csv, [
    'Article,Date,Heading,NewsType',
    '"Oil prices fell on Friday as supply rose faster than demand.",1/2/2015,Oil falls,business',
    '"The striker scored twice in the final and the club won the cup.",1/3/2015,Cup final,sports',
    '"The central bank kept interest rates unchanged this month.",1/4/2015,Rates held,business',
  ].join('\r\n') + '\r\n');
  return { dir, csv, dataDir: join(dir, 'data'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// Word-piece ids of the model's vocabulary (vocab.txt: one piece a line, CRLF, id = line number).
export function loadVocab() {
  const lines = readFileSync(join(sharedDir, 'models/all-MiniLM-L6-v2/vocab.txt'), 'utf8').split(/\r?\n/);
  return new Map(lines.map((piece, id) => [piece, id]));
}

// The fixture corpus as its tests know it: heading → topic (fixtures/corpus.csv).
export function corpusHeadings() {
  const out = new Map();
  for (const line of readFileSync(CORPUS, 'latin1').split('\r\n').slice(1)) {
    const m = line.match(/,\d+\/\d+\/\d{4},(.*),(business|sports)$/);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

let ingested = null;
// One data directory per test file over fixtures/corpus.csv, ingested once
// (every server opens it read-only).
function fixtureDataDir() {
  if (ingested) return ingested;
  const dir = mkdtempSync(join(tmpdir(), 'ragd-js-'));
  const data = join(dir, 'data');
  const r = spawnSync(ragdBin(), ['ingest', '--csv', CORPUS, '--data-dir', data, '--no-progress'],
                      { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ragd ingest failed (${r.status}): ${r.stderr}`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  ingested = data;
  return data;
}

// `ragd serve` over the fixture corpus with extra flags.
export function startServe(extra = []) {
  return startRagd(['serve', '--data-dir', fixtureDataDir(), '--no-ingest', ...extra]);
}

// `ragd model` and a `ragd gateway` over the fixture corpus in front of it;
// resolves once the gateway is ready (its health check found the model).
export async function startGateway(modelArgs = [], gatewayArgs = []) {
  const model = await startRagd(['model', ...modelArgs]);
  let gateway;
  try {
    gateway = await startRagd(['gateway', '--data-dir', fixtureDataDir(), '--model-url', model.url,
                               ...gatewayArgs]);
  } catch (e) {
    await model.stop();
    throw e;
  }
  return {
    url: gateway.url,
    log: gateway.log,
    async stop() {
      const g = await gateway.stop();
      const m = await model.stop();
      return g || m;
    },
  };
}

export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body),
                                 headers: { 'Content-Type': 'application/json', ...headers } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

// The value of a counter series in /metrics text (0 when absent).
export async function metricValue(base, name, labels) {
  const text = await (await fetch(base + '/metrics')).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}} `)) return Number(line.split(' ').pop());
  }
  return 0;
}

// A fresh headless Chromium with its own profile; close() removes the profile.
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'ragd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
