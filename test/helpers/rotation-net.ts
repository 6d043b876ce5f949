// A rotation net with every weight random, saved as training saves it: for the compiled rotation score's and the
// maps' rotation cells' tests.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG } from '../../src/config';
import { sha256 } from '../../src/fsutil';
import { buildRotationNet } from '../../src/models/rotation-net';
import { serializeModel } from '../../src/run/checkpoint';
import { readRotationNet } from '../../src/run/open-rotation';
import { block, compiledBlockOf, pictures } from './brute-cells';

/** Deterministic numbers in [0, 1). */
export function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return out;
}

/**
 * A rotation net for `size`×`size`×`channels` with every weight random, the BatchNorms' moving statistics included
 * (a fresh net's are 0 and 1, which would hide a fold that ignores them), saved as training saves it; and its
 * files' checksums.
 */
export async function savedRotationNet(work: string, size: number, channels: number, filters: number, seed: number) {
  const net = buildRotationNet({ ...DEFAULT_MODEL_CONFIG, inputSize: size, channels }, seed, filters);
  let k = seed * 1000;
  net.setWeights(net.weights.map((w) => {
    const name = w.originalName;
    // The kernels as initialised (so the logits stay moderate, as a trained net's); the rest random: variances
    // positive and away from 0, means, shifts and biases around 0.
    if (name.endsWith('kernel')) return w.read().clone();
    const shape = w.shape as number[]; // a weight's shape is known
    const u = uniform(shape.reduce((a, b) => a * b, 1), k++);
    const values = name.endsWith('moving_variance') ? u.map((v) => 0.2 + v) : name.endsWith('gamma') ? u.map((v) => 0.5 + v) : u.map((v) => (v - 0.5) * 0.4);
    return tf.tensor(values, shape);
  }));
  const dir = path.join(work, `${size}-${channels}-${filters}-${seed}`);
  fs.mkdirSync(path.join(dir, 'rotation'), { recursive: true });
  const { json, bin } = await serializeModel(net);
  fs.writeFileSync(path.join(dir, 'rotation', 'model.json'), json);
  fs.writeFileSync(path.join(dir, 'rotation', 'weights.bin'), bin);
  const checksums = { 'rotation/model.json': sha256(Buffer.from(json)), 'rotation/weights.bin': sha256(bin) };
  return { net, dir, checksums };
}

/**
 * What the combined cell-search tests start from at 28×28: a saved rotation net (4 filters, seed 5) and its folded
 * copy, R's test block as tfjs tensors and as the compiled kernels take it, 37 memory pictures and 5 queries.
 */
export async function cellSearchFixture(work: string) {
  const { net, dir, checksums } = await savedRotationNet(work, 28, 1, 4, 5);
  const b = block();
  return { net, folded: readRotationNet(dir, checksums), b, compiledBlock: compiledBlockOf(b), memorySet: pictures(37, 28, 1), querySet: pictures(5, 28, 2) };
}
