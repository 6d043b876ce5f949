/**
 * Per-kernel profile of one ALOCC training step (`npx tsx bench/profile.ts [wasm|cpu] [batch]`). Kernel times of
 * nested kernels (the fast gradients run Conv2D, Transpose, … inside) are counted under both names.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { trainBatch } from '../src/train/step';
import { createNets } from '../src/train/nets';

async function main() {
  const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
  const batch = Number(process.argv[3] ?? 128);
  await selectBackend(backend);
  const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: batch };
  const nets = createNets(DEFAULT_MODEL_CONFIG, { ...cfg, seed: 1 });
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  for (let i = 0; i < 2; i++) trainBatch(nets, x, cfg, i);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const steps = 3;
  for (let i = 0; i < steps; i++) trainBatch(nets, x, cfg, 10 + i);
  const ms = (performance.now() - t0) / steps;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
  console.log(`${backend} batch ${batch}: ${ms.toFixed(0)} ms/step (CPU ${cpuMs.toFixed(0)} ms), ${((batch * 1000) / ms).toFixed(1)} images/s`);
  const info = await tf.profile(() => {
    trainBatch(nets, x, cfg, 99);
  });
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n += 1;
    byName.set(k.name, e);
  }
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [name, e] of rows.slice(0, 25)) console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(5)} calls`);
  console.log(`kernels total (nested counted twice): ${rows.reduce((s, r) => s + r[1].ms, 0).toFixed(0)} ms`);
  if (process.argv.includes('--shapes')) {
    const byShape = new Map<string, { ms: number; n: number }>();
    for (const k of info.kernels) {
      const key = `${k.name} ${k.inputShapes.map((s) => (s ? s.join('x') : '-')).join(', ')}`;
      const e = byShape.get(key) ?? { ms: 0, n: 0 };
      e.ms += k.kernelTimeMs as number;
      e.n += 1;
      byShape.set(key, e);
    }
    const top = [...byShape.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 40));
    for (const [key, e] of top) console.log(`${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(4)}×  ${key}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
