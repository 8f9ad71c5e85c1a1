#!/usr/bin/env node
// encode_ort — the ONNX Runtime peer of bench/encode: onnxruntime-node (CPU,
// installed under bench/node_modules with ONNXRUNTIME_NODE_INSTALL_CUDA=skip)
// running the export of bench/export_onnx.py, with 2 intra-op threads and all
// graph optimisations. Same inputs and protocol as bench/encode.c (RESULT and
// LATENCY lines); batches padded to their longest sequence with a mask.
// --check REF.jsonl prints the worst cosine to PyTorch's reference vectors.
//
//   node encode_ort.js MODEL.onnx INPUTS.jsonl [--seconds S] [--threads N] [--check REF]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = { seconds: 1.0, threads: 2, check: null, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') a.seconds = parseFloat(argv[++i]);
    else if (argv[i] === '--threads') a.threads = parseInt(argv[++i], 10);
    else if (argv[i] === '--check') a.check = argv[++i];
    else a.pos.push(argv[i]);
  }
  return a;
}

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function pad(batch) {
  const L = Math.max(...batch.map((s) => s.length));
  const ids = new BigInt64Array(batch.length * L);
  const mask = new BigInt64Array(batch.length * L);
  batch.forEach((s, i) => s.forEach((id, j) => { ids[i * L + j] = BigInt(id); mask[i * L + j] = 1n; }));
  return {
    input_ids: new ort.Tensor('int64', ids, [batch.length, L]),
    attention_mask: new ort.Tensor('int64', mask, [batch.length, L]),
  };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const [modelPath, inputsPath] = a.pos;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const sets = {};
  for (const c of readJsonl(inputsPath)) (sets[c.set] = sets[c.set] || []).push(c.ids);
  const run = async (batch) => (await session.run(pad(batch))).embeddings.data;
  const now = () => Number(process.hrtime.bigint()) / 1e9;

  if (a.check) {
    const tokens = new Map(readJsonl(path.join(path.dirname(a.check), 'tokens.jsonl')).map((c) => [c.text, c.ids]));
    let worst = 1;
    const refs = readJsonl(a.check);
    for (const r of refs) {
      const v = await run([tokens.get(r.text)]);
      let ab = 0, aa = 0, bb = 0;
      for (let d = 0; d < v.length; d++) { ab += v[d] * r.embedding[d]; aa += v[d] * v[d]; bb += r.embedding[d] ** 2; }
      worst = Math.min(worst, ab / Math.sqrt(aa * bb));
    }
    console.log(`CHECK ort worst cosine ${worst.toFixed(7)} over ${refs.length} cases`);
  }

  const measure = async (name, bs) => {
    const data = sets[name];
    await run(Array.from({ length: Math.min(bs, 8) }, (_, i) => data[i % data.length]));
    let sentences = 0, tokens = 0, start = 0, t = 0;
    const t0 = now();
    do {
      const batch = Array.from({ length: bs }, (_, i) => data[(start + i) % data.length]);
      await run(batch);
      start += bs; sentences += bs;
      tokens += batch.reduce((n, s) => n + s.length, 0);
      t = now() - t0;
    } while (t < a.seconds);
    console.log(`RESULT ort ${name} ${bs} ${sentences} ${tokens} ${t.toFixed(6)}`);
  };

  const q = sets.query.slice(0, 1);
  for (let i = 0; i < 20; i++) await run(q);
  const ms = [];
  for (let i = 0; i < 200; i++) { const t0 = now(); await run(q); ms.push((now() - t0) * 1e3); }
  ms.sort((x, y) => x - y);
  console.log(`LATENCY ort query ${ms[ms.length >> 1].toFixed(4)} ${q[0].length}`);
  await measure('h13', 32);
  for (const name of ['headings', 'passages']) for (const bs of [1, 8, 32, 128]) await measure(name, bs);
}

main().catch((e) => { console.error(e); process.exit(1); });
