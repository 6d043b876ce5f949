// `eval --all-digits --seeds`: the mean ± sd over seeds per class and of the ten-class means, checked against numbers
// worked out by hand, and the option's parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, InvalidArgumentError } from 'commander';
import { buildProgram } from '../src/cli';
import { EvalAllSummary } from '../src/commands/eval-all';
import { renderSeedsTable, summariseSeeds } from '../src/commands/eval-seeds';

const SCORES = [{ name: 'knn', label: 'kNN in R' }, { name: 'pixelKnn', label: 'kNN on pixels (baseline)' }, { name: 'dOfR', label: 'D(R(x))' }];

/** A two-class sweep whose class AUROCs are given; its class-mean is what eval-all writes. */
function sweep(knn: [number, number], pixel: [number, number], epochs: [number, number]): EvalAllSummary {
  const digits = [0, 1].map((c) => ({
    digit: c, epoch: epochs[c], score: 'knn' as const, scoreAuroc: knn[c], auroc: { knn: knn[c], pixelKnn: pixel[c], dOfR: 0.5 }, f1: 0.9, f1AtShare: {}, report: `r${c}`,
  }));
  const mean = (v: [number, number]) => ({ mean: (v[0] + v[1]) / 2, sd: 0 });
  return {
    format: 'alocc-eval-all', version: 1, startedAt: '', finishedAt: '', epochs: 5, seed: 42, draws: 10, dataset: 'mnist', testImages: 100,
    scores: SCORES, digits,
    mean: { scoreAuroc: mean(knn), auroc: { knn: mean(knn), pixelKnn: mean(pixel), dOfR: { mean: 0.5, sd: 0 } }, f1: { mean: 0.9, sd: 0 }, f1AtShare: {} },
  };
}

test('per class: mean ± sd over seeds; overall: the sd over seeds of each seed\'s class mean, not of the classes', () => {
  const s = summariseSeeds('mnist', [42, 1, 2], [
    sweep([0.99, 0.95], [0.98, 0.96], [5, 4]),
    sweep([0.98, 0.96], [0.98, 0.96], [5, 5]),
    sweep([0.97, 0.94], [0.98, 0.96], [3, 5]),
  ], ['a', 'b', 'c']);
  // Class 0's kNN: 0.99, 0.98, 0.97 → mean 0.98, sample sd 0.01.
  assert.ok(Math.abs(s.classes[0].auroc.knn.mean - 0.98) < 1e-12);
  assert.ok(Math.abs(s.classes[0].auroc.knn.sd - 0.01) < 1e-12);
  assert.deepEqual(s.classes[1].epochs, [4, 5, 5]);
  // Seed class-means 0.97, 0.97, 0.955 → mean 0.965, sd √((0.005² + 0.005² + 0.01²)/2) = 0.008660.
  assert.deepEqual(s.seedMeans.knn.map((v) => Number(v.toFixed(6))), [0.97, 0.97, 0.955]);
  assert.ok(Math.abs(s.mean.knn.mean - 0.965) < 1e-12);
  assert.ok(Math.abs(s.mean.knn.sd - Math.sqrt((0.005 ** 2 * 2 + 0.01 ** 2) / 2)) < 1e-12);
  // Class 0: 0.98 vs 0.98 is not above; class 1: 0.95 vs 0.96 is not either.
  assert.equal(s.classesAboveBaseline, 0);
  const table = renderSeedsTable(s).split('\n');
  assert.equal(table[0], '| class | epochs | kNN in R (verdict) | kNN on pixels (baseline) | D(R(x)) | verdict − baseline |');
  assert.equal(table[2], '| 0 | 5 5 3 | 0.9800 ± 0.0100 | 0.9800 ± 0.0000 | 0.5000 ± 0.0000 | 0.0000 |');
  assert.equal(table[4], '| mean |  | **0.9650 ± 0.0087** | **0.9700 ± 0.0000** | **0.5000 ± 0.0000** | -0.0050 |');
});

test('--seeds takes distinct whole numbers and goes only with a sweep', async () => {
  const cmd = buildProgram().commands.find((c: Command) => c.name() === 'eval')!;
  const parse = (v: string) => cmd.options.find((o) => o.long === '--seeds')!.parseArg!(v, undefined);
  assert.deepEqual(parse('42,1,2'), [42, 1, 2]);
  assert.deepEqual(parse(' 7 '), [7]);
  for (const bad of ['42,,1', '-1', '1.5', 'a', '']) {
    assert.throws(() => parse(bad), (e: unknown) => e instanceof InvalidArgumentError && /^--seeds must be whole numbers/.test(e.message), bad);
  }
  assert.throws(() => parse('3,1,3'), (e: unknown) => e instanceof InvalidArgumentError && e.message === '--seeds lists 3 twice; each seed trains one set of runs.');
  await assert.rejects(
    buildProgram().exitOverride().parseAsync(['node', 'alocc', 'eval', '--digit', '1', '--seeds', '1,2']),
    (e: unknown) => e instanceof InvalidArgumentError && /^--seeds goes with --all-digits or --all-classes/.test(e.message),
  );
});
