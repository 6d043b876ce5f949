// `alocc serve` over real HTTP on loopback: the same numbers as `score --json`, batching, R's reconstruction for
// the page, and hostile requests each refused (or cut off) on time while the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { FastifyInstance } from 'fastify';
import { Detector, loadDetector } from '../../src/api/detector';
import { openRun } from '../../src/run/open';
import { buildServer } from '../../src/serve/server';
import { alocc, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';
import { pngWithStream, zerosZlibStream } from '../helpers/png-builder';

const work = tempDir('alocc-serve-');
const runDir = path.join(work, 'ckpt', 'digit-1');
const REQUEST_TIMEOUT_MS = 1500;
const BODY_LIMIT = 2 * 1024 * 1024;
let files: string[] = [];
let cli: Record<string, any>[] = [];
let detector: Detector;
let app: FastifyInstance;
let base = '';

before(async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 1, { model: SMALL_MODEL, cells: true });
  files = [...writeTestDigits(path.join(work, 'img'), 1, 4), ...writeTestDigits(path.join(work, 'img'), 3, 4)];
  const r = alocc('score', '--json', '--details', '--model', runDir, '--backend', 'wasm', ...files);
  assert.equal(r.code, 0, r.stderr);
  cli = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  detector = await loadDetector(runDir, { backend: 'wasm' });
  app = buildServer(detector, { bodyBytes: BODY_LIMIT, maxBatch: 16, maxPending: 64, requestTimeoutMs: REQUEST_TIMEOUT_MS, batchWaitMs: 5 });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await app?.close();
  detector?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

const post = (body: Buffer | string, type: string, query = '') => fetch(`${base}/score${query}`, { method: 'POST', body, headers: { 'content-type': type } });

function assertLikeCli(got: Record<string, any>, expected: Record<string, any>, what: string): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `${what}: the fields of score --json`);
  for (const k of ['score', 'verdict', 'inverted', 'threshold']) assert.equal(got[k], expected[k], `${what}: ${k}`);
  for (const k of ['novelty', 'reconstructionLoss', 'dOfReconstruction', 'dOfInput']) {
    assert.ok(Math.abs(got[k] - expected[k]) <= 1e-6 * Math.max(1, Math.abs(expected[k])), `${what}: ${k} ${got[k]} vs ${expected[k]}`);
  }
}

/** A response's JSON body, untyped as the wire is. */
const jsonOf = (res: Response): Promise<any> => res.json();

/** A good request still answered after a hostile one. */
async function stillServes(): Promise<void> {
  const res = await post(fs.readFileSync(files[0]), 'image/png');
  assert.equal(res.status, 200);
  assertLikeCli({ ...(await jsonOf(res)), file: cli[0].file }, cli[0], 'after a hostile request');
}

test('GET /healthz, GET /model (from the run file) and GET / (a page that needs nothing from elsewhere)', async () => {
  assert.deepEqual((await jsonOf(await fetch(`${base}/healthz`))).status, 'ok');
  const model = await jsonOf(await fetch(`${base}/model`));
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  const record = run.epochs.find((e: { epoch: number }) => e.epoch === run.bestEpoch);
  assert.equal(model.epoch, run.bestEpoch);
  assert.equal(model.threshold, record.threshold);
  assert.equal(model.score, run.config.train.noveltyScore);
  assert.deepEqual(model.metrics.validation, record.validation);
  // The stored cell calibration: the local score's threshold and the maps' scale, as the run file holds them.
  assert.deepEqual(model.cells, record.cells);
  assert.ok(model.cells.local.threshold > 0 && model.cells.scale.low < model.cells.scale.high);
  assert.equal(model.preprocessing.size, run.config.model.inputSize);
  const page = await fetch(`${base}/`);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  assert.match(html, /<canvas id="pad"/);
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="(https?:)?\/\//, 'no external resources');
});

test('the page and GET /model name the run by its name, never by the server\'s folder', async () => {
  const modelText = await (await fetch(`${base}/model`)).text();
  const html = await (await fetch(`${base}/`)).text();
  const absolute = path.resolve(runDir);
  for (const [what, text] of [['GET /model', modelText], ['the page', html]]) {
    assert.ok(!text.includes(absolute), `${what} shows the folder ${absolute}`);
    assert.ok(!text.includes(work), `${what} shows the work folder ${work}`);
  }
  assert.equal(JSON.parse(modelText).run, 'digit-1');
  assert.match(html, /<div id="model">digit-1: /);
  assert.equal(detector.info.runDir, runDir, 'the library still has the folder');
});

test('POST /score: an image body gets the fields of score --json, with the CLI\'s numbers; any image Content-Type works', async () => {
  for (const [i, type] of ['image/png', 'application/octet-stream', 'image/jpeg'].entries()) {
    const res = await post(fs.readFileSync(files[i]), type);
    assert.equal(res.status, 200);
    assertLikeCli({ ...(await jsonOf(res)), file: cli[i].file }, cli[i], `${files[i]} as ${type}`);
  }
});

test('?reconstruction=1 adds the network\'s input and R\'s reconstruction as PNG data URLs, equal to R run directly', async () => {
  const res = await post(fs.readFileSync(files[4]), 'image/png', '?reconstruction=1');
  const body = await jsonOf(res);
  const png = (url: string) => PNG.sync.read(Buffer.from(url.replace(/^data:image\/png;base64,/, ''), 'base64'));
  const input = png(body.input);
  const recon = png(body.reconstruction);
  assert.deepEqual([input.width, input.height, recon.width, recon.height], [28, 28, 28, 28]);
  // R applied to the input image the service returned, outside the service.
  const opened = openRun(runDir);
  const x = Float32Array.from({ length: 784 }, (_, p) => input.data[4 * p] / 255);
  const y = tf.tidy(() => (opened.r.predict(tf.tensor4d(x, [1, 28, 28, 1])) as tf.Tensor).dataSync());
  opened.dispose();
  let worst = 0;
  for (let p = 0; p < 784; p++) worst = Math.max(worst, Math.abs(recon.data[4 * p] - Math.round(y[p] * 255)));
  assert.ok(worst <= 2, `reconstruction differs from R(x) by ${worst} levels`); // the input PNG itself is rounded
});

test('?map=1 adds map { cells, cellThreshold, overlay } and the local score equal to the library\'s, in one body or multipart; without it no map', async () => {
  const want = await detector.score(files[5], { map: true });
  const check = (got: Record<string, any>, what: string) => {
    const { map, local, ...fields } = got;
    assertLikeCli({ ...fields, file: cli[5].file }, cli[5], what);
    assert.deepEqual(local, want.local, `${what}: the local score, as the library's`);
    assert.equal(map.cellThreshold, want.map!.cellThreshold, `${what}: cell threshold`);
    assert.deepEqual(map.cells, want.map!.cells, `${what}: cells`);
    const png = Buffer.from(map.overlay.replace(/^data:image\/png;base64,/, ''), 'base64');
    assert.ok(png.equals(Buffer.from(want.map!.overlayPng)), `${what}: overlay`);
  };
  check(await jsonOf(await post(fs.readFileSync(files[5]), 'image/png', '?map=1')), 'image body');
  const form = new FormData();
  form.append('a', new Blob([fs.readFileSync(files[5])], { type: 'image/png' }), 'five.png');
  const { results } = await jsonOf(await fetch(`${base}/score?map=1`, { method: 'POST', body: form }));
  check(results[0], 'multipart');
  assert.equal((await jsonOf(await post(fs.readFileSync(files[5]), 'image/png'))).map, undefined);
});

test('multipart with several files: a results array in order, a bad file reported in its place', async () => {
  const form = new FormData();
  form.append('a', new Blob([fs.readFileSync(files[5])], { type: 'image/png' }), 'five.png');
  form.append('b', new Blob([Buffer.from('not a picture at all')], { type: 'image/png' }), 'bad.png');
  form.append('c', new Blob([fs.readFileSync(files[6])], { type: 'image/png' }), 'six.png');
  const res = await fetch(`${base}/score`, { method: 'POST', body: form });
  assert.equal(res.status, 200);
  const { results } = await jsonOf(res);
  assert.equal(results.length, 3);
  assertLikeCli({ ...results[0], file: cli[5].file }, cli[5], 'first part');
  assert.equal(results[0].file, 'five.png');
  assert.match(results[1].error, /^bad\.png: not a supported image/);
  assertLikeCli({ ...results[2], file: cli[6].file }, cli[6], 'third part');
});

test('concurrent requests are scored in shared forward passes, each with its own picture\'s numbers', async () => {
  const before = (await jsonOf(await fetch(`${base}/healthz`))).batches;
  const order = Array.from({ length: 32 }, (_, i) => i % files.length);
  const answers = await Promise.all(order.map((i) => post(fs.readFileSync(files[i]), 'image/png').then(jsonOf)));
  answers.forEach((a, k) => assertLikeCli({ ...a, file: cli[order[k]].file }, cli[order[k]], `request ${k}`));
  const afterStats = (await jsonOf(await fetch(`${base}/healthz`))).batches;
  assert.equal(afterStats.items - before.items, 32);
  assert.ok(afterStats.batches - before.batches < 32, `32 requests took ${afterStats.batches - before.batches} forward passes`);
  assert.ok(afterStats.largest > 1);
});

test('a decompression bomb (30,000×30,000 PNG under 1 MB) gets 413 at once; a truncated file 400', async () => {
  const bomb = pngWithStream(30_000, 30_000, zerosZlibStream(30_000 * 30_001));
  assert.ok(bomb.length < 1024 * 1024, `${bomb.length} bytes`);
  const started = Date.now();
  const res = await post(bomb, 'image/png');
  assert.equal(res.status, 413);
  assert.match((await jsonOf(res)).error, /image too large \(30000x30000 = 900 megapixels; the limit is 50\)/);
  assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
  await stillServes();
  const good = fs.readFileSync(files[1]);
  const truncated = await post(good.subarray(0, Math.floor(good.length / 2)), 'image/png');
  assert.equal(truncated.status, 400);
  assert.match((await jsonOf(truncated)).error, /truncated PNG/);
  await stillServes();
});

test('a wrong Content-Type and bytes that are no picture get 415; an empty body 400; a body over the limit 413', async () => {
  const png = fs.readFileSync(files[2]);
  const text = await post(png, 'text/plain');
  assert.equal(text.status, 415);
  assert.ok((await jsonOf(text)).error);
  const json = await post('{"x":1}', 'application/json');
  assert.equal(json.status, 415);
  const notPicture = await post(Buffer.from('GIF? no, plain text'), 'image/gif');
  assert.equal(notPicture.status, 415);
  assert.match((await jsonOf(notPicture)).error, /not a supported image/);
  const empty = await post(Buffer.alloc(0), 'image/png');
  assert.equal(empty.status, 400);
  assert.match((await jsonOf(empty)).error, /empty body/);
  const big = await post(Buffer.concat([png, Buffer.alloc(BODY_LIMIT)]), 'image/png');
  assert.equal(big.status, 413);
  await stillServes();
});

test('a client that sends part of its body and stops is cut off once the request timeout passes', async () => {
  const started = Date.now();
  const outcome = await new Promise<{ ms: number; reply: string }>((resolve, reject) => {
    const url = new URL(base);
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n`);
      socket.write(fs.readFileSync(files[3]).subarray(0, 50)); // then nothing more
    });
    let reply = '';
    socket.on('data', (d) => (reply += d));
    socket.on('close', () => resolve({ ms: Date.now() - started, reply }));
    socket.on('error', reject);
    setTimeout(() => (socket.destroy(), reject(new Error('the server never dropped the stalled request'))), 10_000);
  });
  assert.ok(outcome.ms >= REQUEST_TIMEOUT_MS - 100, `dropped after ${outcome.ms} ms, before the timeout`);
  assert.ok(outcome.ms < REQUEST_TIMEOUT_MS + 2000, `dropped after ${outcome.ms} ms`);
  assert.ok(outcome.reply === '' || /^HTTP\/1\.1 408/.test(outcome.reply), outcome.reply);
  await stillServes();
});

test('under modest load (200 requests, 8 at a time) every answer is 200', async () => {
  const bodies = files.map((f) => fs.readFileSync(f));
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 200) {
        const res = await post(bodies[next++ % bodies.length], 'image/png');
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  assert.equal(statuses.length, 200);
  assert.deepEqual([...new Set(statuses)], [200]);
});
