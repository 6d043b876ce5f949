// A check of the data-parallel probe (parallel.ts), not part of `npm test`: `npx tsx bench/research/parallel-check.ts`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, ModelConfig, TrainConfig } from '../../src/config';
import { createParallelTrainer, readModelWeights, writeModelWeights } from './parallel';
import { trainBatch } from '../../src/train/step';
import { buildReconstructor } from '../../src/models/reconstructor';
import { createNets } from '../../src/train/nets';
import { BatchLosses } from '../../src/run/runfile';

const MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dfDim: 4, gfDim: 4 };
// Without noise and with both halves of the batch alike, each worker's BatchNorm statistics are the full batch's,
// so 2 workers must reproduce single-process training exactly (up to float rounding).
const CFG: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, batchSize: 8, noiseStd: 0 };
const SEED = 5;

function twinBatch(): tf.Tensor4D {
  const half = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 11);
  return tf.concat([half, half]) as tf.Tensor4D;
}

function close(a: number, b: number, what: string) {
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

test('2 workers on a batch whose halves agree reproduce single-process training', { timeout: 60_000 }, async () => {
  await selectBackend('wasm');
  const x = twinBatch();
  const nets = createNets(MODEL, { ...CFG, seed: SEED });
  const single: BatchLosses[] = [0, 1].map((i) => trainBatch(nets, x, CFG, i));

  const trainer = await createParallelTrainer(CFG, MODEL, SEED, 2, 'wasm');
  try {
    const parallel: BatchLosses[] = [];
    for (const i of [0, 1]) parallel.push(await trainer.trainBatch(x, i));
    parallel.forEach((losses, step) => {
      for (const k of Object.keys(losses) as (keyof BatchLosses)[]) close(losses[k]!, single[step][k]!, `step ${step} ${k}`);
    });
    const weights = await trainer.getWeights();
    const compare = (model: tf.LayersModel, values: Float32Array[]) =>
      model.weights.forEach((w, i) => {
        // A conv bias under BatchNorm gets a gradient of pure rounding noise (see train-equivalence.test.ts).
        if (w.originalName.endsWith('/bias') && model.weights.some((o) => o.originalName === w.originalName.replace('/bias', '_bn/gamma'))) return;
        const expected = w.read().dataSync();
        let worst = 0;
        let scale = 0;
        expected.forEach((e, j) => {
          scale = Math.max(scale, Math.abs(e));
          worst = Math.max(worst, Math.abs(e - values[i][j]));
        });
        // An absolute floor too: BatchNorm moving means of near-zero channels inherit that rounding noise.
        assert.ok(worst <= 1e-4 * scale + 1e-5, `${w.originalName}: differs by ${worst}`);
      });
    compare(nets.r, weights.r);
    compare(nets.d, weights.d);

    // The trainer's weights load into models built in this thread, for checkpoints.
    const copy = buildReconstructor(MODEL, SEED + 1);
    writeModelWeights(copy, weights.r);
    assert.deepEqual(readModelWeights(copy), weights.r);
    copy.dispose();

    // setWeights puts every worker back on the given values.
    const zeroed = { r: weights.r.map((v) => new Float32Array(v.length)), d: weights.d.map((v) => new Float32Array(v.length)) };
    await trainer.setWeights(zeroed);
    const back = await trainer.getWeights();
    assert.ok(back.r.every((v) => v.every((e) => e === 0)) && back.d.every((v) => v.every((e) => e === 0)));
  } finally {
    await trainer.dispose();
    x.dispose();
  }
});

test('a batch smaller than the number of workers is refused with a clear error', { timeout: 60_000 }, async () => {
  const trainer = await createParallelTrainer(CFG, MODEL, SEED, 2, 'wasm');
  try {
    await assert.rejects(trainer.trainBatch(tf.zeros([1, 28, 28, 1]) as tf.Tensor4D, 0), /batch of 1 images cannot be split over 2 workers/);
  } finally {
    await trainer.dispose();
  }
});
