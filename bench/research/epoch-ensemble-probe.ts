/**
 * Does an ensemble of several epochs' knn scores rank better than the chosen epoch's alone?
 * `npx tsx bench/research/epoch-ensemble-probe.ts CHECKPOINT_DIR`. For every run of a built-in set in the folder, the
 * knn score of each epoch (its own stored memory, R's first block at that epoch) on the whole test set, each divided
 * by that epoch's mean validation knn score (no test label: the validation images are normal training images held
 * out), then the AUROC of the chosen epoch alone and of the mean over sets of epochs. Writes
 * epoch-ensemble-probe.json beside the runs. Results: docs/research.md, "An ensemble over epochs".
 */
import { builtInTestSet, floatsOf, builtInTrainingImages } from '../../src/data/source';
import { auroc } from '../../src/eval/metrics';
import { runProbe } from './probe-runs';
import { openRun } from '../../src/run/open';
import * as tf from '@tensorflow/tfjs';
import { coreset } from '../../src/score/coreset';
import { denseFirstBlockFeatures, FoldedFirstBlock, memoryFromBank } from '../../src/score/feature-memory';
import { knnNovelty } from '../../src/score/scorer';
import { splitTraining } from '../../src/train/dataset';

/**
 * The knn AUROC with one first block whose folded weights are the mean of `blocks` (weight averaging along the run,
 * as SWA): a fresh coreset of the run's memory size in that space, scored as the product scores.
 */
function averagedBlockAuroc(blocks: FoldedFirstBlock[], train: ReturnType<typeof splitTraining>['train'], m: number, k: number, seed: number, pixels: Float32Array, test: ReturnType<typeof builtInTestSet>): number {
  const block: FoldedFirstBlock = {
    filter: tf.tidy(() => tf.addN(blocks.map((b) => b.filter)).div(blocks.length)) as tf.Tensor4D,
    bias: tf.tidy(() => tf.addN(blocks.map((b) => b.bias)).div(blocks.length)) as tf.Tensor1D,
    alpha: blocks[0].alpha,
  };
  const space = (x: tf.Tensor4D) => denseFirstBlockFeatures(x, block, 'mean') // the cells of the runs it measured (run-file version 4);
  const core = coreset(space, train, m, seed);
  const memory = memoryFromBank(space, core.features, core.images.count, k);
  try {
    return auroc(knnNovelty(memory, pixels, test.count, test, block), test.isNovel);
  } finally {
    memory.bank.dispose();
    block.filter.dispose();
    block.bias.dispose();
  }
}

runProbe('epoch-ensemble-probe', (runDir, run) => {
  const test = builtInTestSet(run.config.data);
  const pixels = floatsOf(test);
  const perEpoch: Float32Array[] = [];
  const blocks: FoldedFirstBlock[] = [];
  for (const record of run.epochs) {
    const opened = openRun(runDir, { epoch: record.epoch });
    try {
      const scores = knnNovelty(opened.memory, pixels, test.count, test, opened.firstBlock());
      const scale = 1 / record.validation.knn.mean;
      perEpoch.push(scores.map((v) => v * scale));
      const b = opened.firstBlock();
      blocks.push({ filter: tf.clone(b.filter), bias: tf.clone(b.bias), alpha: b.alpha });
    } finally {
      opened.dispose();
    }
  }
  const mean = (epochs: number[]) => {
    const out = new Float32Array(test.count);
    for (const e of epochs) perEpoch[e - 1].forEach((v, i) => (out[i] += v / epochs.length));
    return auroc(out, test.isNovel);
  };
  const best = run.bestEpoch ?? run.epochs.length;
  const all = run.epochs.map((r) => r.epoch);
  const row: Record<string, number> = { best, [`epoch ${best} alone`]: mean([best]) };
  for (const e of all) row[`epoch ${e}`] = mean([e]);
  row['all epochs'] = mean(all);
  row['epochs 2-'] = mean(all.filter((e) => e >= 2));
  row['last 3'] = mean(all.slice(-3));
  row['best and the one before'] = mean(best > 1 ? [best - 1, best] : [best]);
  row['epochs 1 to best'] = mean(all.filter((e) => e <= best));
  row['epochs 1 and best'] = mean(best > 1 ? [1, best] : [best]);
  const { train } = splitTraining(builtInTrainingImages(run.config.data), run.config.train);
  const cfg = run.config.train;
  row['weights averaged, epochs 1 to best'] = averagedBlockAuroc(blocks.slice(0, best), train, cfg.memoryCoreset, cfg.neighbours, cfg.seed, pixels, test);
  row['weights averaged, all epochs'] = averagedBlockAuroc(blocks, train, cfg.memoryCoreset, cfg.neighbours, cfg.seed, pixels, test);
  row['weights averaged, best and the one before'] = averagedBlockAuroc(blocks.slice(Math.max(0, best - 2), best), train, cfg.memoryCoreset, cfg.neighbours, cfg.seed, pixels, test);
  row['weights averaged, last 3 to best'] = averagedBlockAuroc(blocks.slice(Math.max(0, best - 3), best), train, cfg.memoryCoreset, cfg.neighbours, cfg.seed, pixels, test);
  return row;
});
