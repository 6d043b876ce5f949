/**
 * Probe (issue 22): should the verdict's knn read the rotation net's block cells beside R's first block, as the maps
 * do since run-file version 10? The knn verdict reads R's first block only, which is nearly as good untrained as
 * trained; the rotation net's blocks are what training earns. Asked of a run's own saved nets:
 *
 *   npx tsx bench/research/verdict-rotation-cells.ts RUN NORMAL NOVEL [--weights 0,0.5,1] [--block 2] [--epoch E] [--k K]
 *
 * A picture's knn vector is [R's pooled first block as the product's knn takes it (means and maxima each unit over
 * the grid, × 1/√2) | w · the rotation net's block-B output (unit over its grid)] / √(1 + w²); its distance the
 * product's (1 − the mean of the k largest cosines with the memory pictures, k the run's neighbours or --k), against every
 * stored memory picture (the product's coreset keeps 1,000 of them: equal to all of them for folders that small).
 * Then the product's sum with the rotation score, each part standardised on the run's stored validation pictures,
 * the rotation part capped as the run caps it. One JSON line per weight: AUROC of the knn part and of the sum.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { labelledFolders } from '../../src/data/test-images';
import { floatsOf, ImageSet } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { openRun } from '../../src/run/open';
import { cellSide, pooledFirstBlock } from '../../src/score/feature-memory';
import { combinedNovelty, rotationNovelty, scaleOf } from '../../src/score/rotation-score';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const unitRows = (t: tf.Tensor2D) => tf.div(t, tf.add(tf.norm(t, 2, -1, true), 1e-12));

async function main(): Promise<void> {
  const [runDir, normal, novel] = process.argv.slice(2);
  const epoch = process.argv.includes('--epoch') ? Number(flag('--epoch', '0')) : undefined;
  const weights = flag('--weights', '0,0.5,1').split(',').map(Number);
  const block = Number(flag('--block', '2'));
  await selectBackend('auto' as never);
  const opened = openRun(runDir, { epoch });
  const net = opened.rotationNet;
  const combination = opened.combination;
  if (!net || !combination) throw new Error(`${runDir}: not a knnRotation run`);
  const { test } = await labelledFolders(path.resolve(normal), path.resolve(novel), opened.preprocessing);
  const validation = opened.validationImages();
  if (!validation) throw new Error(`${runDir}: no stored validation pictures`);
  const memory = opened.memoryImages();
  const first = opened.firstBlock();
  const k = Number(flag('--k', String(opened.config.train.neighbours)));
  const trunk = tf.model({ inputs: net.inputs, outputs: net.getLayer(`rot_pool${block - 1}`).output as tf.SymbolicTensor });

  /** [R part (unit, the product's knn features) , rotation part (unit)] of set's pictures, 128 at a time. */
  const parts = (set: ImageSet) => {
    const r: tf.Tensor2D[] = [];
    const rot: tf.Tensor2D[] = [];
    for (let s = 0; s < set.count; s += 128) {
      const n = Math.min(128, set.count - s);
      tf.tidy(() => {
        const x = tf.tensor4d(floatsOf(set, s, n), [n, set.size, set.size, set.channels]);
        const pooled = pooledFirstBlock(x, first, cellSide(set.size), true); // [n, 2, rows, cols, co]
        const halves = tf.unstack(pooled, 1).map((h) => tf.mul(unitRows(h.reshape([n, -1]) as tf.Tensor2D), Math.SQRT1_2));
        r.push(tf.keep(tf.concat(halves, 1) as tf.Tensor2D));
        rot.push(tf.keep(unitRows((trunk.predict(x) as tf.Tensor4D).reshape([n, -1]) as tf.Tensor2D) as tf.Tensor2D));
      });
    }
    const out = { r: tf.concat(r) as tf.Tensor2D, rot: tf.concat(rot) as tf.Tensor2D };
    tf.dispose([...r, ...rot]);
    return out;
  };
  const bank = parts(memory);
  const queries = { test: parts(test), validation: parts(validation) };
  const testPixels = floatsOf(test);
  const rotation = { test: rotationNovelty(net, testPixels, test.count, test.size, test.channels) };
  const labels = Uint8Array.from(test.isNovel, (v) => (v ? 1 : 0));
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  for (const w of weights) {
    const knn = (q: { r: tf.Tensor2D; rot: tf.Tensor2D }) => tf.tidy(() => {
      const cos = tf.div(tf.add(tf.matMul(q.r, bank.r, false, true), tf.mul(tf.matMul(q.rot, bank.rot, false, true), w * w)), 1 + w * w);
      return tf.sub(1, tf.mean(tf.topk(cos, Math.min(k, memory.count)).values, 1)).dataSync() as Float32Array;
    });
    const [dTest, dValidation] = [knn(queries.test), knn(queries.validation)];
    const sum = combinedNovelty(dTest, rotation.test, { ...combination, knn: scaleOf(dValidation) });
    console.log(JSON.stringify({ run: runDir, epoch: opened.epoch, block, weight: w, k, memory: memory.count, knn: round(auroc(dTest, labels)), knnRotation: round(auroc(sum, labels)), rotation: round(auroc(rotation.test, labels)) }));
  }
  tf.dispose([bank.r, bank.rot, queries.test.r, queries.test.rot, queries.validation.r, queries.validation.rot]);
  opened.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
