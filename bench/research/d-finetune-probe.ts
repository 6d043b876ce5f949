/**
 * Probe (issue 22, point 4): can D's own score be made to rank the right way by fine-tuning it after training, as
 * OGNet (Zaheer et al., CVPR 2020, "Old is Gold") does? After ALOCC's training, OGNet's second phase teaches D that
 * the normal pictures and R's good reconstructions of them are normal (label 1) and that an early R's poor
 * reconstructions, and its reconstructions of two normal pictures averaged (pseudo-anomalies), are not (label 0);
 * D(x) is then the score. Here on a run's saved nets, in memory (nothing is written):
 *
 *   npx tsx bench/research/d-finetune-probe.ts RUN [--normal DIR --novel DIR] [--old-epoch 1] [--steps 75,150,300]
 *       [--lr 1e-4] [--batch 32]
 *
 * RUN's best epoch gives R and D, --old-epoch the early R; the training pictures are the run's stored memory
 * pictures; the test pictures the built-in set's (MNIST, Fashion-MNIST runs) or NORMAL/NOVEL. D's step: BCE on its
 * logits, Adam, a batch of each kind per step. One JSON line per step count: AUROC of D(x) and D(R(x)) (lower =
 * novel), before (steps 0) and after.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { builtInTestImages, labelledFolders } from '../../src/data/test-images';
import { floatsOf } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { logitsOf } from '../../src/models/logits';
import { openRun } from '../../src/run/open';
import { mulberry32 } from '../../src/data/random';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const runDir = process.argv[2];
  const oldEpoch = Number(flag('--old-epoch', '1'));
  const stepCounts = flag('--steps', '75,150,300').split(',').map(Number);
  const lr = Number(flag('--lr', '1e-4'));
  const batch = Number(flag('--batch', '32'));
  await selectBackend('auto' as never);
  const opened = openRun(runDir);
  const old = openRun(runDir, { epoch: oldEpoch });
  const { test } = process.argv.includes('--normal')
    ? await labelledFolders(path.resolve(flag('--normal', '')), path.resolve(flag('--novel', '')), opened.preprocessing)
    : builtInTestImages(opened.config.data, undefined);
  const train = opened.memoryImages();
  const shape = [train.size, train.size, train.channels];
  const labels = Uint8Array.from(test.isNovel, (v) => (v ? 1 : 0));
  const { r, d } = opened;
  const rOld = old.r;

  const scores = () => {
    const dx = new Float32Array(test.count);
    const drx = new Float32Array(test.count);
    for (let s = 0; s < test.count; s += 256) {
      const n = Math.min(256, test.count - s);
      tf.tidy(() => {
        const x = tf.tensor4d(floatsOf(test, s, n), [n, ...shape] as [number, number, number, number]);
        dx.set(tf.neg(logitsOf(d, x, false)).dataSync() as Float32Array, s);
        drx.set(tf.neg(logitsOf(d, r.predict(x) as tf.Tensor, false)).dataSync() as Float32Array, s);
      });
    }
    return { dOfX: auroc(dx, labels), dOfRx: auroc(drx, labels) };
  };
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  const report = (steps: number) => {
    const s = scores();
    console.log(JSON.stringify({ run: runDir, epoch: opened.epoch, oldEpoch, lr, batch, steps, dOfX: round(s.dOfX), dOfRx: round(s.dOfRx) }));
  };
  report(0);
  const optimizer = tf.train.adam(lr);
  const vars = d.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const rand = mulberry32(7);
  const pick = () => Array.from({ length: batch }, () => Math.floor(rand() * train.count));
  const picture = (rows: number[]) => {
    const per = shape[0] * shape[1] * shape[2];
    const out = new Float32Array(rows.length * per);
    rows.forEach((row, k) => out.set(floatsOf(train, row, 1), k * per));
    return tf.tensor4d(out, [rows.length, ...shape] as [number, number, number, number]);
  };
  let done = 0;
  for (const target of stepCounts) {
    for (; done < target; done++) {
      tf.tidy(() => {
        const x = picture(pick());
        const y = picture(pick());
        const good = tf.concat([x, r.predict(x) as tf.Tensor4D]);
        const bad = tf.concat([rOld.predict(x) as tf.Tensor4D, rOld.predict(tf.div(tf.add(x, y), 2)) as tf.Tensor4D]);
        for (const [inputs, label] of [[good, 1], [bad, 0]] as const) {
          optimizer.minimize(() => {
            const z = logitsOf(d, inputs, true);
            return tf.losses.sigmoidCrossEntropy(tf.fill(z.shape, label), z) as tf.Scalar;
          }, false, vars);
        }
      });
    }
    report(done);
  }
  opened.dispose();
  old.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
