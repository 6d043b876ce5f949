/** One full training step at batch 128 (`npx tsx bench/step-time.ts [wasm|cpu]`): median wall and CPU time of 5 steps; used by stages.sh. */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { trainBatch } from '../src/train/step';
import { createNets } from '../src/train/nets';
async function main() {
  await selectBackend((process.argv[2] ?? 'wasm') as 'wasm');
  const B = Number(process.env.BATCH ?? 128);
  const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: B };
  const nets = createNets(DEFAULT_MODEL_CONFIG, { ...cfg, seed: 1 });
  const x = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  trainBatch(nets, x, cfg, 0); trainBatch(nets, x, cfg, 1);
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < 5; i++) { const c = process.cpuUsage(); const t = performance.now(); trainBatch(nets, x, cfg, 2 + i); wall.push(performance.now() - t); const d = process.cpuUsage(c); cpu.push((d.user + d.system) / 1000); }
  wall.sort((a, b) => a - b); cpu.sort((a, b) => a - b);
  console.log(`RESULT wall ${wall[2].toFixed(0)} ms (${(B * 1000 / wall[2]).toFixed(1)} img/s) cpu ${cpu[2].toFixed(0)} ms (${(B * 1000 / cpu[2]).toFixed(1)} img/s per core-second)`);
}
main();
