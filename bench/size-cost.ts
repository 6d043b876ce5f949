/**
 * What an input shape costs (`npx tsx bench/size-cost.ts [wasm|cpu]`): for 28×28×1, 64×64×1 and 64×64×3, a training
 * step at batch 64 (median of 5, after 2 warm-up steps) in images/s, scoring (R, D and R's features, batch 64) in
 * images/s, the knn memory's bytes per image, and the process's peak RSS and the backend's memory after the steps.
 * Writes bench/results/size-cost.json. The README's "What a size costs" table comes from it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { describeBackend } from '../src/backend-choice';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { createNets } from '../src/train/nets';
import { poolSide } from '../src/score/nearest';
import { scoreImages } from '../src/score/scorer';
import { trainBatch } from '../src/train/step';

const SHAPES: [number, number][] = [[28, 1], [64, 1], [64, 3]];
const BATCH = 64;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main() {
  const info = await selectBackend((process.argv[2] ?? 'wasm') as 'wasm');
  console.log(describeBackend(info));
  const rows = [];
  for (const [size, channels] of SHAPES) {
    const model = { ...DEFAULT_MODEL_CONFIG, inputSize: size, channels };
    const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: BATCH };
    const nets = createNets(model, cfg);
    const x = tf.randomUniform([BATCH, size, size, channels], 0, 1, 'float32', 7) as tf.Tensor4D;
    trainBatch(nets, x, cfg, 1);
    trainBatch(nets, x, cfg, 2);
    const step: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      trainBatch(nets, x, cfg, 3 + i);
      step.push(performance.now() - t);
    }
    const pixels = x.dataSync() as Float32Array;
    scoreImages(nets, pixels, BATCH, { size, channels });
    const score: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      scoreImages(nets, pixels, BATCH, { size, channels }, BATCH);
      score.push(performance.now() - t);
    }
    const half = Math.ceil(size / 2);
    const cells = Math.floor(half / poolSide(half));
    const row = {
      shape: `${size}×${size}×${channels}`,
      trainImagesPerSecond: Math.round((BATCH * 1000) / median(step)),
      scoreImagesPerSecond: Math.round((BATCH * 1000) / median(score)),
      memoryBytesPerImage: cells * cells * 32 * 4,
      rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
      backendMB: Math.round(tf.memory().numBytes / 2 ** 20),
      parameters: { r: nets.r.countParams(), d: nets.d.countParams() },
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    x.dispose();
    [nets.r, nets.d, nets.rOptimizer, nets.dOptimizer].forEach((n) => n.dispose());
  }
  const out = path.join(__dirname, 'results', 'size-cost.json');
  fs.writeFileSync(out, JSON.stringify({ backend: info.label, batch: BATCH, date: new Date().toISOString(), rows }, null, 2) + '\n');
  console.log(`written: ${out}`);
}
main();
