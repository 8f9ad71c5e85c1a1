// ragd.mjs — the JS tests' view of a running ragd: start the real binary
// (RAGD_BIN, set by ctest) on a free loopback port, learn the port from its
// "listening" log line, stop it with SIGTERM and report its exit status.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
