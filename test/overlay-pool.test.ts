// The overlay pool (src/plot/overlay-pool.ts): a worker thread draws the overlays of a streamed folder; its PNGs must
// be renderOverlayPng's bytes, in the jobs' order, whichever thread draws them, and a job it cannot draw fails with
// the overlay's own message. The stream's one-chunk lookahead (scoreFileStream) keeps file order and never drops a
// finished chunk's results when the next chunk fails.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { OverlayJob, overlayPool, renderInline } from '../src/plot/overlay-pool';
import { renderOverlayPng } from '../src/plot/overlay';
import { scoreFileStream, SCORE_CHUNK } from '../src/api/verdicts';
import type { Preprocessing } from '../src/data/decode';
import { mulberry32 } from '../src/data/random';
import { writeTestDigits } from './helpers/cli';
import { tempDir } from './helpers/fixtures';

const work = tempDir('alocc-overlay-pool-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Overlays of seeded pictures and maps, grey 28×28 and colour 64×64, some cells past the threshold. */
function jobs(count: number, seed: number): OverlayJob[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const [size, channels, grid] = i % 3 === 2 ? [64, 3, 8] : [28, 1, 7];
    const cells = Float32Array.from({ length: grid * grid }, () => rand());
    return {
      picture: { pixels: Float32Array.from({ length: size * size * channels }, () => rand()), size, channels },
      anomaly: { cells, rows: grid, cols: grid, map: Float32Array.from({ length: size * size }, () => rand()), size },
      scale: { low: 0.1, high: 0.9, cellThreshold: 0.6 },
      caption: { score: rand(), threshold: 0.5, novel: i % 2 === 0 },
    };
  });
}

const inline = (js: OverlayJob[]) => js.map((j) => Buffer.from(renderOverlayPng(j.picture, j.anomaly, j.scale, j.caption)));

test('overlayPool: the worker draws renderOverlayPng\'s bytes, in order, for batches sent before the first returns', async () => {
  const pool = overlayPool();
  try {
    const batches = [jobs(7, 1), jobs(5, 2), jobs(9, 3)];
    const drawn = await Promise.all(batches.map((b) => pool.render(b)));
    batches.forEach((b, k) => {
      const want = inline(b);
      assert.equal(drawn[k].length, want.length);
      drawn[k].forEach((png, i) => assert.ok(Buffer.from(png).equals(want[i]), `batch ${k}, overlay ${i}`));
    });
    assert.deepEqual(pool.drawn, { worker: 3, inline: 0 }, 'every batch drawn by the worker');
  } finally {
    pool.dispose();
  }
});

test('overlayPool: a job it cannot draw rejects with the overlay\'s message; after dispose it still draws, on this thread', async () => {
  const pool = overlayPool();
  const [bad] = jobs(1, 4);
  bad.anomaly = { ...bad.anomaly, size: 14 };
  await assert.rejects(pool.render([bad]), /overlay: a 28x28x1 picture and a 14x14 map do not match/);
  pool.dispose();
  const good = jobs(3, 5);
  (await pool.render(good)).forEach((png, i) => assert.ok(Buffer.from(png).equals(inline(good)[i])));
  assert.deepEqual(pool.drawn, { worker: 0, inline: 1 });
  assert.deepEqual(renderInline(good).map((p) => Buffer.from(p)), inline(good));
});

test('overlayPool: a worker stopped with jobs in hand leaves them to this thread: the same bytes, none lost', { timeout: 20_000 }, async () => {
  const pool = overlayPool();
  const held = jobs(6, 6);
  const pending = pool.render(held);
  pool.dispose(); // terminates the worker before it can answer, as a crash would
  (await pending).forEach((png, i) => assert.ok(Buffer.from(png).equals(inline(held)[i]), `overlay ${i}`));
  assert.deepEqual(pool.drawn, { worker: 0, inline: 1 });
});

/** Digits written as PNGs: more than two chunks' worth. */
function files(): string[] {
  const dir = path.join(work, 'digits');
  return Array.from({ length: 10 }, (_, d) => writeTestDigits(dir, d, Math.ceil((2 * SCORE_CHUNK + 40) / 10))).flat();
}

test('scoreFileStream: chunks whose results come later (and out of order) are yielded in file order; a failing chunk keeps the one before', async () => {
  const all = files();
  const pre: Preprocessing = { size: 28, channels: 1, resize: 'contain', invert: 'auto', fit: 'none' };
  const delays = [30, 0, 10];
  let chunkNo = 0;
  const seen: string[] = [];
  for await (const r of scoreFileStream(all, pre, { overrides: {} }, (items) => {
    const names = items.map((it) => it.name);
    const wait = delays[chunkNo++];
    return new Promise<string[]>((resolve) => setTimeout(() => resolve(names), wait));
  })) seen.push(r as string);
  assert.equal(chunkNo, 3);
  assert.deepEqual(seen, all);

  // The second chunk throws while the first's results are still pending: the first chunk's results come out, then the error.
  chunkNo = 0;
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const r of scoreFileStream(all, pre, { overrides: {} }, (items) => {
      if (chunkNo++ === 1) throw new Error('the kernels gave up');
      const names = items.map((it) => it.name);
      return new Promise<string[]>((resolve) => setTimeout(() => resolve(names), 20));
    })) got.push(r as string);
  }, /the kernels gave up/);
  assert.deepEqual(got, all.slice(0, SCORE_CHUNK));
});
