import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, ModelConfig, TrainConfig } from '../src/config';
import { nativeStatus, registerFastConvGradients, registerKernelFixes, setNativeKernels, unregisterFastConvGradients } from '../src/kernels';
import { trainBatch } from '../src/train/step';
import { createNets } from '../src/train/nets';
import { BatchLosses } from '../src/run/runfile';

const BATCH = 8;
const STEPS = 3;
const cfg: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, batchSize: BATCH };
/**
 * The real architecture with fewer filters: the stock cpu filter gradient needs ~8 s per image per step at full
 * width, and its cost falls with the square of the width. A quarter (4, 8, 16, 32 channels) sends most convs of the
 * compiled kernels down their narrow-channel paths; half (8 … 64) down their main, SIMD-width ones.
 */
const WIDTHS = [4, 8];

/** A fixed batch of image-like values in [0, 1]: a bright blob whose place depends on the image index. */
function batch(): tf.Tensor4D {
  const s = DEFAULT_MODEL_CONFIG.inputSize;
  const data = new Float32Array(BATCH * s * s);
  for (let b = 0; b < BATCH; b++) {
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        const d = (i - 8 - b) ** 2 + (j - 14 + b / 2) ** 2;
        data[(b * s + i) * s + j] = Math.exp(-d / 30);
      }
    }
  }
  return tf.tensor4d(data, [BATCH, s, s, 1]);
}

interface Run {
  losses: BatchLosses[];
  weights: { name: string; values: Float32Array }[];
  /** R's reconstruction and D's score of the batch after training, in training mode (batch statistics). */
  outputs: Float32Array[];
}

/**
 * STEPS steps of trainBatch from the same seeds on `backend`, with or without the fast kernels. Without them the
 * upsampling-gradient fix still applies: stock cpu's is wrong for batch > 1 (see src/kernels/resize-grad.ts).
 */
async function train(MODEL: ModelConfig, backend: 'cpu' | 'wasm', fast: boolean): Promise<Run> {
  await tf.setBackend(backend);
  registerKernelFixes(backend);
  if (fast) registerFastConvGradients(backend);
  else unregisterFastConvGradients(backend);
  const nets = createNets(MODEL, { ...cfg, seed: 7 });
  const x = batch();
  const losses: BatchLosses[] = [];
  for (let step = 0; step < STEPS; step++) losses.push(trainBatch(nets, x, cfg, 1000 + step));
  const weights = [...nets.r.weights, ...nets.d.weights].map((w) => ({ name: w.originalName, values: w.read().dataSync() as Float32Array }));
  const outputs = tf.tidy(() => {
    const y = nets.r.apply(x, { training: true }) as tf.Tensor;
    const p = nets.d.apply(y, { training: true }) as tf.Tensor;
    return [y.dataSync() as Float32Array, p.dataSync() as Float32Array];
  });
  x.dispose();
  nets.r.dispose();
  nets.d.dispose();
  nets.rOptimizer.dispose();
  nets.dOptimizer.dispose();
  return { losses, weights, outputs };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  return worst / Math.max(scale, 1e-12);
}

for (const width of WIDTHS) {
test(`${STEPS} training steps on ${BATCH} images, width ${width}: fast kernels on wasm, with and without the compiled ones, match stock cpu kernels`, { timeout: 240_000 }, async () => {
  const model: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dfDim: width, gfDim: width };
  const reference = await train(model, 'cpu', false);
  const fast = await train(model, 'wasm', true);
  // Where a C compiler built the addon, these steps must have run on it (see native.test.ts for when it is absent).
  assert.equal(nativeStatus().loaded, fs.existsSync(path.join(__dirname, '..', 'build', 'alocc_kernels.node')), nativeStatus().reason);
  assertSameTraining(fast, reference, 'wasm');
  // What a machine without a C compiler runs: each kernel's one fallback.
  setNativeKernels(false);
  try {
    assertSameTraining(await train(model, 'wasm', true), reference, 'wasm without the compiled kernels');
  } finally {
    setNativeKernels(true);
  }
});
}

/** The losses of every step, R's and D's outputs and the weights after training agree with the stock cpu run's. */
function assertSameTraining(fast: Run, reference: Run, what: string) {
  for (let step = 0; step < STEPS; step++) {
    for (const key of Object.keys(reference.losses[step]) as (keyof BatchLosses)[]) {
      const [a, b] = [fast.losses[step][key]!, reference.losses[step][key]!];
      assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}, step ${step} ${key}: ${a} vs cpu ${b}`);
    }
  }
  fast.outputs.forEach((o, i) => {
    const diff = maxRelDiff(o, reference.outputs[i]);
    assert.ok(diff <= 1e-3, `${what}: ${i === 0 ? 'R(x)' : 'D(R(x))'} after training differs by ${diff} (relative)`);
  });
  // A conv bias followed by BatchNorm has no effect (the batch mean removes it), so its true gradient is 0 and what
  // both backends compute is rounding noise of either sign, which RMSprop scales up to ±3·lr per update. Those are
  // the only weights allowed to differ.
  const names = new Set(reference.weights.map((w) => w.name));
  const cancelledByBatchNorm = (name: string) => name.endsWith('/bias') && names.has(name.replace('/bias', '_bn/gamma'));
  let compared = 0;
  reference.weights.forEach((ref, i) => {
    if (cancelledByBatchNorm(ref.name)) return;
    const diff = maxRelDiff(fast.weights[i].values, ref.values);
    assert.ok(diff <= 1e-4, `${what}: ${ref.name} differs by ${diff.toExponential(2)} (relative to its largest entry)`);
    compared++;
  });
  assert.ok(compared > 30, `only ${compared} weights compared`);
}
