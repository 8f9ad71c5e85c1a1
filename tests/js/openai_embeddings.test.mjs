// openai_embeddings.test.mjs — the official `openai` npm client against a
// real `ragd model` and a real `ragd serve` over loopback (issue 18): the
// client's default call (it asks for base64 and decodes the float32 bytes
// itself) gives the float call's vectors and /encode's; token-id input gives
// the vectors of the text it came from; models.list() and models.retrieve()
// name the model; bad inputs raise the client's typed errors; with
// --api-key the client's apiKey is what opens the routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { loadVocab, startRagd, tinyCorpus } from './ragd.mjs';

const MODEL = 'all-MiniLM-L6-v2';
const texts = ['oil prices fall', 'the club won the cup final', 'interest rates were unchanged'];

function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / Math.sqrt(aa * bb);
}

function assertSameVector(a, b, what) {
  assert.equal(a.length, 384, `${what}: length`);
  assert.equal(b.length, 384, `${what}: length`);
  const c = cosine(a, b);
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  assert.ok(c > 1 - 1e-6 && worst < 1e-6, `${what}: cosine ${c}, largest difference ${worst}`);
}

// The ids of a text of whole-word pieces, without [CLS]/[SEP]: the texts
// above are chosen so every word is one piece of the vocabulary (asserted).
function wordIds(vocab, text) {
  return text.split(' ').map((w) => {
    assert.ok(vocab.has(w), `'${w}' is not a single piece of the vocabulary`);
    return vocab.get(w);
  });
}

async function encodeRoute(baseURL, input) {
  const res = await fetch(`${baseURL}/encode`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ texts: input }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

function suite(role, start) {
  describe(`openai client against ragd ${role}`, () => {
    let server, oa, cleanup;
    const vocab = loadVocab();

    before(async () => {
      ({ server, cleanup } = await start());
      oa = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    });
    after(async () => {
      if (server) assert.equal(await server.stop(), 0, `ragd ${role} did not exit cleanly:\n${server.log()}`);
      if (cleanup) cleanup();
    });

    test('the default call (base64 on the wire) equals the float call and /encode', async () => {
      // Prove what the client sends by default: it must be base64 for this test to mean anything.
      let sentFormat;
      const spy = new OpenAI({
        baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0,
        fetch: (url, init) => {
          sentFormat = JSON.parse(init.body).encoding_format;
          return fetch(url, init);
        },
      });
      const byDefault = await spy.embeddings.create({ model: MODEL, input: texts });
      assert.equal(sentFormat, 'base64');
      const asFloat = await oa.embeddings.create({ model: MODEL, input: texts, encoding_format: 'float' });
      const encoded = await encodeRoute(server.url, texts);
      assert.equal(byDefault.data.length, texts.length);
      assert.equal(byDefault.model, MODEL);
      for (let i = 0; i < texts.length; i++) {
        assert.equal(byDefault.data[i].index, i);
        assert.ok(Array.isArray(byDefault.data[i].embedding), 'the client decoded base64 into numbers');
        assertSameVector(byDefault.data[i].embedding, asFloat.data[i].embedding, `base64 vs float, text ${i}`);
        assertSameVector(byDefault.data[i].embedding, encoded.embeddings[i], `base64 vs /encode, text ${i}`);
      }
      const tokens = encoded.tokens.reduce((a, b) => a + b, 0);
      assert.deepEqual(byDefault.usage, { prompt_tokens: tokens, total_tokens: tokens });
    });

    test('a raw base64 answer is the little-endian float32 bytes', async () => {
      const raw = await oa.embeddings.create({ model: MODEL, input: texts[0], encoding_format: 'base64' });
      const bytes = Buffer.from(raw.data[0].embedding, 'base64');
      assert.equal(bytes.length, 384 * 4);
      const v = Array.from({ length: 384 }, (_, i) => bytes.readFloatLE(4 * i));
      const asFloat = await oa.embeddings.create({ model: MODEL, input: texts[0], encoding_format: 'float' });
      assertSameVector(v, asFloat.data[0].embedding, 'decoded by hand');
    });

    test('token-id input equals the text it came from', async () => {
      const fromText = await oa.embeddings.create({ model: MODEL, input: texts });
      const ids = texts.map((t) => wordIds(vocab, t));
      // A list of lists without [CLS]/[SEP], one with them, and one single list.
      const plain = await oa.embeddings.create({ model: MODEL, input: ids });
      const withSpecials = await oa.embeddings.create({ model: MODEL, input: ids.map((l) => [101, ...l, 102]) });
      const single = await oa.embeddings.create({ model: MODEL, input: ids[0] });
      for (let i = 0; i < texts.length; i++) {
        assertSameVector(plain.data[i].embedding, fromText.data[i].embedding, `ids of text ${i}`);
        assertSameVector(withSpecials.data[i].embedding, fromText.data[i].embedding, `[CLS] ids [SEP] of text ${i}`);
      }
      assertSameVector(single.data[0].embedding, fromText.data[0].embedding, 'one list of ids');
      assert.deepEqual(plain.usage, fromText.usage);
      assert.deepEqual(withSpecials.usage, fromText.usage);
    });

    test('dimensions 384 and user are accepted', async () => {
      const r = await oa.embeddings.create({ model: MODEL, input: texts[0], dimensions: 384, user: 'someone' });
      assert.equal(r.data[0].embedding.length, 384);
    });

    test('models.list() names the model and models.retrieve() returns it', async () => {
      const ids = [];
      for await (const m of oa.models.list()) ids.push(m);
      assert.ok(ids.some((m) => m.id === MODEL && m.object === 'model'), JSON.stringify(ids));
      const one = await oa.models.retrieve(MODEL);
      assert.equal(one.id, MODEL);
      assert.equal(one.owned_by, 'sentence-transformers');
      assert.equal(typeof one.created, 'number');
      await assert.rejects(oa.models.retrieve('text-embedding-3-small'), (e) =>
        e instanceof OpenAI.NotFoundError && e.code === 'model_not_found' && e.param === 'model');
    });

    test('bad inputs raise the client\'s typed errors', async () => {
      const bad = (body, Type, param) =>
        assert.rejects(oa.embeddings.create({ model: MODEL, ...body }), (e) => {
          assert.ok(e instanceof Type, `${JSON.stringify(body)}: got ${e.constructor.name}: ${e.message}`);
          assert.equal(e.type, 'invalid_request_error');
          assert.equal(e.param, param);
          assert.ok(e.message.length > 0);
          return true;
        });
      await bad({ input: 'a', dimensions: 100 }, OpenAI.BadRequestError, 'dimensions');
      await bad({ input: [[101, 30522, 102]] }, OpenAI.BadRequestError, 'input');
      await bad({ input: [[]] }, OpenAI.BadRequestError, 'input');
      await bad({ input: ['a', 1] }, OpenAI.BadRequestError, 'input');
      await bad({ input: 'a', encoding_format: 'int8' }, OpenAI.BadRequestError, 'encoding_format');
      await bad({ input: [] }, OpenAI.UnprocessableEntityError, 'input');
      // And the server still answers.
      const ok = await oa.embeddings.create({ model: MODEL, input: 'still serving' });
      assert.equal(ok.data[0].embedding.length, 384);
    });
  });
}

suite('model', async () => ({ server: await startRagd(['model', '--threads', '1']) }));

suite('serve', async () => {
  const corpus = tinyCorpus();
  try {
    const server = await startRagd(['serve', '--threads', '1', '--data-dir', corpus.dataDir, '--csv', corpus.csv]);
    return { server, cleanup: corpus.remove };
  } catch (e) {
    corpus.remove();
    throw e;
  }
});

describe('openai client against ragd model with --api-key', () => {
  let server;
  before(async () => {
    server = await startRagd(['model', '--threads', '1', '--api-key', 'js-test-key']);
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `ragd model did not exit cleanly:\n${server.log()}`);
  });

  test('the client\'s apiKey is the Bearer key; a wrong one is AuthenticationError', async () => {
    const good = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'js-test-key', maxRetries: 0 });
    const r = await good.embeddings.create({ model: MODEL, input: 'with a key' });
    assert.equal(r.data[0].embedding.length, 384);
    assert.equal((await good.models.retrieve(MODEL)).id, MODEL);
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
    await assert.rejects(wrong.embeddings.create({ model: MODEL, input: 'x' }), OpenAI.AuthenticationError);
    await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError);
  });
});
