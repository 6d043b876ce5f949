// Research: where a rotation step's time goes at 28×28 (kernels by total ms under tf.profile), and the step's wall
// time alone and with R and D (`npx tsx bench/research/rotation-step-profile.ts [steps]`).
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../../src/config';
import { createNets } from '../../src/train/nets';
import { rotationSteps } from '../../src/train/trainer';
import { trainBatch } from '../../src/train/step';

async function main() {
  await selectBackend('wasm');
  const steps = Number(process.argv[2] ?? 5);
  const B = 128;
  const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: B, seed: 1 };
  const nets = createNets(DEFAULT_MODEL_CONFIG, cfg);
  const x = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  for (let i = 0; i < 2; i++) { trainBatch(nets, x, cfg, i); rotationSteps(nets.rotation!, cfg, x, i); }
  const time = (f: (i: number) => void) => {
    const t: number[] = [];
    for (let i = 0; i < steps; i++) { const t0 = performance.now(); f(i); t.push(performance.now() - t0); }
    return t.sort((a, b) => a - b)[Math.floor(steps / 2)];
  };
  const rd = time((i) => trainBatch(nets, x, cfg, i));
  const rot = time((i) => rotationSteps(nets.rotation!, cfg, x, i));
  console.log(`R+D ${rd.toFixed(1)} ms, rotation (2 passes, ${B / cfg.rotationBatchSize * 2} steps) ${rot.toFixed(1)} ms, sum ${(rd + rot).toFixed(1)} ms = ${(B * 1000 / (rd + rot)).toFixed(1)} img/s`);
  const info = await tf.profile(() => { rotationSteps(nets.rotation!, cfg, x, 99); });
  const by = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += (k.kernelTimeMs as number) || 0; e.n++;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`profiled kernels: ${info.kernels.length}, kernel ms ${total.toFixed(1)}`);
  for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(7)} ms ${String(e.n).padStart(5)} calls`);
}
main();
