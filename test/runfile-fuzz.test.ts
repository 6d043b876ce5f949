// Property-based tests of the run-file reader: whatever run.json holds, reading it either fails with one AloccError
// line naming the file, or yields a run every consumer (score, resume, plot, progress) can use without crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { configDifferences, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, MAX_INPUT_SIZE, MIN_INPUT_SIZE, NOVELTY_SCORES } from '../src/config';
import { AloccError } from '../src/errors';
import { epochDirFor, runFilePath } from '../src/run/paths';
import { epochSummary } from '../src/train/progress';
import { pickBestEpoch, RunFile, runFileProblem } from '../src/run/runfile';
import { readRunFile } from '../src/run/runfile-io';
import { tempDir } from './helpers/fixtures';
import { explain } from '../src/commands/advice';
import { runFileFixture } from './helpers/run-file';

const runDir = path.join(tempDir('alocc-runfuzz-'), 'digit-1');
fs.mkdirSync(runDir);
const RUNS = 300;

const losses = (v: number) => ({ dLossReal: v, dLossFake: v + 0.1, gLoss: v + 0.2, reconLoss: v + 0.3, advLoss: v + 0.4 });
const hash = (c: string) => c.repeat(64);

/** A valid two-epoch run file, the seed of the mutations. */
function validRun(): RunFile {
  return runFileFixture({ epochs: 3 }, {
    memoryImages: { count: 90, sha256: hash('d') },
    epochs: [1, 2].map((epoch) => ({
      epoch,
      mean: losses(epoch),
      valReconLoss: 0.3 - epoch / 100,
      threshold: 0.4,
      wallSeconds: 3,
      imagesPerSecond: 30,
      validation: Object.fromEntries(NOVELTY_SCORES.map((s) => [s, { mean: 0.1 * epoch, threshold: 0.4 }])) as RunFile['epochs'][number]['validation'],
      memory: { images: 90, features: 1568 },
      checksums: { 'r/model.json': hash('a'), 'r/weights.bin': hash('b'), 'optimizers.bin': hash('c') },
    })),
    batches: [0, 1, 2, 3].map((i) => ({ epoch: (i >> 1) + 1, batch: i & 1, fractionalEpoch: (i + 1) / 2, ...losses(i / 10) })),
    bestEpoch: 2,
  });
}

/** What score, eval, resume, plot-losses and the progress line read from an accepted run; throws if any would crash. */
function useLikeTheConsumers(run: RunFile) {
  // resume compares configs: one changed setting is named with both values, the epochs never.
  const seed = run.config.train.seed;
  const other = { ...run.config, train: { ...run.config.train, seed: seed + 1, epochs: run.config.train.epochs + 5 } };
  assert.deepEqual(configDifferences(run.config, other), [`seed (run ${seed}, now ${seed + 1})`]);
  const best = pickBestEpoch(run.epochs);
  if (run.epochs.length) assert.ok(run.epochs.some((e) => e.epoch === run.bestEpoch), 'bestEpoch is an epoch');
  // resume loads epoch-<count>/ and continues with epoch count + 1
  run.epochs.forEach((e, i) => assert.equal(e.epoch, i + 1));
  assert.equal(best === null, run.epochs.length === 0);
  for (const e of run.epochs) {
    epochDirFor(runDir, e.epoch);
    epochSummary(e, run.config.train.epochs);
    for (const sum of Object.values(e.checksums)) assert.match(sum, /^[0-9a-f]{64}$/);
  }
  for (const b of run.batches) {
    for (const v of [b.fractionalEpoch, b.reconLoss, b.dLossReal, b.dLossFake, b.advLoss, b.gLoss]) assert.equal(typeof v, 'number');
  }
  assert.equal(typeof run.backend, 'string');
  for (const k of ['trainImages', 'validationImages'] as const) assert.ok(Number.isInteger(run[k]) && run[k] >= 0, `${k} ${run[k]}`);
  const cls = run.config.data.class;
  assert.ok(run.config.data.source === 'folder' ? typeof run.config.data.folder === 'string' : Number.isInteger(cls) && cls! >= 0 && cls! <= 9);
  assert.ok(Number.isInteger(run.config.train.batchSize) && run.config.train.batchSize >= 1);
  // Models are built from these before any weight is read: sizes and widths that fit in memory.
  assert.ok(run.config.model.inputSize >= MIN_INPUT_SIZE && run.config.model.inputSize <= MAX_INPUT_SIZE);
  assert.ok(run.config.model.channels === 1 || run.config.model.channels === 3);
  for (const k of ['dfDim', 'gfDim'] as const) assert.ok(Number.isInteger(run.config.model[k]) && run.config.model[k] >= 1 && run.config.model[k] <= 256);
}

/** Writes `text` as run.json and reads it back: an AloccError naming the file, or a usable run. */
function readBack(text: string) {
  fs.writeFileSync(runFilePath(runDir), text);
  let run: RunFile;
  try {
    run = readRunFile(runDir);
  } catch (err) {
    if (!(err instanceof AloccError)) throw new Error(`threw a non-AloccError: ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(!err.message.includes('\n') && err.message.includes(runFilePath(runDir)), err.message);
    return;
  }
  useLikeTheConsumers(run);
}

/** Every path into a JSON value: ['epochs', 0, 'mean'] and so on. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

const allPaths = paths(validRun()).filter((p) => p.length > 0);
const oddValue = fc.oneof(
  fc.constantFrom(null, true, '', '1', 0, -1, 1.5, 1e308, -0, 2 ** 53, [], {}, [null], { epoch: 1 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const mutation = fc.record({
  at: fc.constantFrom(...allPaths),
  kind: fc.constantFrom('replace', 'delete', 'duplicate'),
  value: oddValue,
});

function mutate(run: any, m: { at: (string | number)[]; kind: string; value: unknown }) {
  const parent = m.at.slice(0, -1).reduce((o, k) => o?.[k], run);
  const key = m.at[m.at.length - 1];
  if (parent === null || typeof parent !== 'object') return;
  if (m.kind === 'replace') parent[key] = m.value;
  else if (m.kind === 'delete') Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key];
  else if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
  else parent[key] = structuredClone(parent);
}

test('the valid seed run reads back and is usable', () => {
  assert.equal(runFileProblem(validRun()), null);
  readBack(JSON.stringify(validRun()));
});

test('runFileProblem never throws, whatever JSON value it is given', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => void runFileProblem(v)), { numRuns: 2 * RUNS });
  fc.assert(fc.property(fc.anything(), (v) => void runFileProblem(v)), { numRuns: RUNS });
});

test('random JSON in run.json is refused with one line', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => readBack(JSON.stringify(v) ?? 'null')), { numRuns: RUNS });
});

test('a valid run file with one to three fields changed, removed or duplicated is refused or still usable', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      const run = validRun();
      for (const m of ms) mutate(run, m);
      readBack(JSON.stringify(run));
    }),
    { numRuns: 4 * RUNS },
  );
});

test('run.json cut short or with bytes changed is refused with one line', () => {
  const text = JSON.stringify(validRun());
  fc.assert(
    fc.property(fc.nat(text.length - 1), fc.array(fc.tuple(fc.nat(text.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (cut, flips) => {
      const bytes = Buffer.from(text.slice(0, cut + 1));
      for (const [at, b] of flips) if (at < bytes.length) bytes[at] = b;
      readBack(bytes.toString('latin1'));
    }),
    { numRuns: RUNS },
  );
});

test('a run folder from an earlier alocc (run file version 2) gets one line saying how to retrain it from what it trained on', () => {
  for (const [data, name, want] of [
    [{ source: 'mnist', class: 4, folder: null }, 'digit-4', 'alocc train --digit 4 --checkpoint-dir DIR --overwrite'],
    [{ source: 'fashion-mnist', class: 6, folder: null }, 'fashion-6', 'alocc train --dataset fashion-mnist --class 6 --checkpoint-dir DIR --overwrite'],
    [{ source: 'folder', class: null, folder: '/pics/cats' }, 'cats', 'alocc train --data /pics/cats --name cats --checkpoint-dir DIR --overwrite'],
  ] as const) {
    const dir = path.join(path.dirname(runDir), name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(runFilePath(dir), JSON.stringify({ ...validRun(), version: 2, config: { ...validRun().config, data } }));
    assert.throws(() => readRunFile(dir), (err: Error) => {
      assert.ok(err instanceof AloccError && !explain(err).includes('\n'));
      // The run layer states the fact; the CLI's words (src/commands/advice.ts) add the command.
      assert.ok(!err.message.includes('alocc train'), err.message);
      assert.match(explain(err), /made by an earlier alocc \(run file version 2\), whose knn memory is in features this version no longer computes; retrain it with: /);
      assert.ok(explain(err).endsWith(want.replace('DIR', path.dirname(runDir))), explain(err));
      return true;
    });
  }
});

test('version-3 to 10 run folders open as version 11 with the settings they were made with', () => {
  // None of them read pixels in the maps; before 10, none read the rotation net's cells there; before 9, none had
  // knnRotation's cap; before 8, no rotation net or its settings.
  const { cellPixelWeight: _px, ...before11 } = validRun().config.train;
  const { cellRotationWeight: _w, ...before10 } = before11;
  const { rotationCap: _c, ...before9 } = before10;
  const { rotationPasses: _p, rotationBatchSize: _b, rotationLearningRate: _l, rotationFilters: _f, rotationAugment: _g, ...before8 } = before9;
  // Version 3: before --memory-coreset (its memory is the stored sample), --cell-pooling (cell means),
  // --batchnorm-statistics (moving averages) and the maps' settings (same-position cells, the local score's top 3).
  const { memoryCoreset: _dropped, cellPooling: _none, batchNormStatistics: _moving, cellNeighbourhood: _n, localTopK: _k, ...train3 } = before8;
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 3, config: { ...validRun().config, train: train3 } }));
  let run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.memoryCoreset, 0);
  assert.equal(run.config.train.cellPooling, 'mean');
  assert.equal(run.config.train.batchNormStatistics, 'moving');
  assert.equal(run.config.train.cellNeighbourhood, 'position');
  assert.equal(run.config.train.localTopK, 3);
  // Version 4: a coreset memory, in cell means.
  const { cellPooling: _absent, batchNormStatistics: _moving4, cellNeighbourhood: _n4, localTopK: _k4, ...train4 } = { ...before8, memoryCoreset: 1000 };
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 4, config: { ...validRun().config, train: train4 } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.memoryCoreset, 1000);
  assert.equal(run.config.train.cellPooling, 'mean');
  assert.equal(run.config.train.batchNormStatistics, 'moving');
  // Version 5: cell maxima, moving averages.
  const { batchNormStatistics: _moving5, cellNeighbourhood: _n5, localTopK: _k5, ...train5 } = { ...before8, cellPooling: 'mean-max' };
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 5, config: { ...validRun().config, train: train5 } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.cellPooling, 'mean-max');
  assert.equal(run.config.train.batchNormStatistics, 'moving');
  // Version 6: BatchNorm statistics recorded, no maps' settings and no cell calibration (the maps fall back).
  const { cellNeighbourhood: _n6, localTopK: _k6, ...train6 } = { ...before8, batchNormStatistics: 'pictures' };
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 6, config: { ...validRun().config, train: train6 } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.batchNormStatistics, 'pictures');
  assert.equal(run.config.train.cellNeighbourhood, 'position');
  assert.equal(run.config.train.localTopK, 3);
  // Version 7: every setting but the rotation net's (it had none).
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 7, config: { ...validRun().config, train: { ...before8, localTopK: 5 } } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.localTopK, 5);
  assert.equal(run.config.train.rotationPasses, 0);
  assert.equal(run.config.train.rotationBatchSize, 32);
  assert.equal(run.config.train.rotationLearningRate, 0.001);
  assert.equal(run.config.train.rotationFilters, 32);
  assert.equal(run.config.train.rotationCap, null);
  // Version 8: the rotation net's settings, its knnRotation summed uncapped.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 8, config: { ...validRun().config, train: { ...before9, rotationFilters: 16 } } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.rotationFilters, 16);
  assert.equal(run.config.train.rotationCap, null);
  assert.equal(run.config.train.cellRotationWeight, 0);
  // Version 9: knnRotation capped, the maps on R's cells alone.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 9, config: { ...validRun().config, train: { ...before10, rotationCap: 3 } } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.rotationCap, 3);
  assert.equal(run.config.train.cellRotationWeight, 0);
  assert.equal(run.config.train.cellPixelWeight, 0);
  // Version 10: the rotation net's cells in the maps, no pixels.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 10, config: { ...validRun().config, train: { ...before11, cellRotationWeight: 0.4 } } }));
  run = readRunFile(runDir);
  assert.equal(run.version, 11);
  assert.equal(run.config.train.cellRotationWeight, 0.4);
  assert.equal(run.config.train.cellPixelWeight, 0);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 10 }));
  assert.throws(() => readRunFile(runDir), /version 10 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 9 }));
  assert.throws(() => readRunFile(runDir), /version 9 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 8 }));
  assert.throws(() => readRunFile(runDir), /version 8 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 7 }));
  assert.throws(() => readRunFile(runDir), /version 7 is not supported \(expected 11\)/);
  // A file that already names a field its version lacked is not one alocc wrote: refused like any other bad version.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 3, config: { ...validRun().config, train: { ...train3, memoryCoreset: 5 } } }));
  assert.throws(() => readRunFile(runDir), /version 3 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 4 }));
  assert.throws(() => readRunFile(runDir), /version 4 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 5 }));
  assert.throws(() => readRunFile(runDir), /version 5 is not supported \(expected 11\)/);
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), version: 6 }));
  assert.throws(() => readRunFile(runDir), /version 6 is not supported \(expected 11\)/);
  // An unknown neighbourhood is named.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), config: { ...validRun().config, train: { ...validRun().config.train, cellNeighbourhood: 'near' } } }));
  assert.throws(() => readRunFile(runDir), /config\.train\.cellNeighbourhood "near" is not one of position, pooled/);
  // An unknown source of BatchNorm statistics is named.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), config: { ...validRun().config, train: { ...validRun().config.train, batchNormStatistics: 'batch' } } }));
  assert.throws(() => readRunFile(runDir), /config\.train\.batchNormStatistics "batch" is not one of moving, pictures/);
  // An unknown cell pooling is named.
  fs.writeFileSync(runFilePath(runDir), JSON.stringify({ ...validRun(), config: { ...validRun().config, train: { ...validRun().config.train, cellPooling: 'max' } } }));
  assert.throws(() => readRunFile(runDir), /config\.train\.cellPooling "max" is not one of mean, mean-max/);
});

test('a run folder from alocc 0.1 (run file version 1) gets one line saying how to retrain it', () => {
  const old = { ...validRun(), version: 1, config: { model: { ...DEFAULT_MODEL_CONFIG }, train: { ...DEFAULT_TRAIN_CONFIG, digit: 1 } } };
  fs.writeFileSync(runFilePath(runDir), JSON.stringify(old));
  assert.throws(() => readRunFile(runDir), (err: Error) => {
    assert.ok(err instanceof AloccError && !explain(err).includes('\n'));
    assert.match(explain(err), /made by alocc 0\.1.*retrain it with: alocc train --digit 1 --overwrite$/);
    return true;
  });
});
