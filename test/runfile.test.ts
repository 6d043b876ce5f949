// The run-file check, field by field: each thing a consumer relies on, broken alone, is refused with the sentence
// that names it; the edges of each accepted range are accepted. The fuzzing in runfile-fuzz.test.ts covers the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpochRecord, pickBestEpoch, RunFile, runFileProblem } from '../src/run/runfile';
import { runFileFixture } from './helpers/run-file';

const losses = (v: number) => ({ dLossReal: v, dLossFake: v, gLoss: v, reconLoss: v, advLoss: v });
const scores = (mean: number) => ({ mean, threshold: 2 * mean });

function epochRecord(epoch: number): EpochRecord {
  return {
    epoch,
    mean: losses(epoch),
    valReconLoss: 0.3,
    threshold: 0.4,
    validation: { bce: scores(0.3), kl: scores(0.2), mse: scores(0.1), ink: scores(0.5), knn: scores(0.05) },
    wallSeconds: 3,
    imagesPerSecond: 30,
    memory: { images: 90, features: 1568 },
    checksums: { 'r/model.json': 'a'.repeat(64), 'optimizers.bin': '0123456789abcdef'.repeat(4) },
  };
}

/** A valid two-epoch knn run; `edit` breaks one thing in it. */
function runWith(edit: (run: any) => void = () => {}): unknown {
  const run: RunFile = runFileFixture(
    { noveltyScore: 'knn', epochs: 3 },
    { epochs: [epochRecord(1), epochRecord(2)], batches: [{ epoch: 1, batch: 0, fractionalEpoch: 0.5, ...losses(1) }], bestEpoch: 2 },
  );
  edit(run);
  return run;
}

test('a valid run, and the edges of every accepted range, pass', () => {
  const accepted: [string, (r: any) => void][] = [
    ['as made', () => {}],
    ['bce clipped', (r) => (r.config.train.bce = 'clipped')],
    ['widths 1 and 256', (r) => { r.config.model.dfDim = 1; r.config.model.gfDim = 256; }],
    ['class 0', (r) => (r.config.data.class = 0)],
    ['class 9', (r) => (r.config.data.class = 9)],
    ['Fashion-MNIST', (r) => (r.config.data.source = 'fashion-mnist')],
    ['a folder run, colour, 16×16', (r) => { r.config.data = { source: 'folder', class: null, folder: '/pictures/cats' }; r.config.model.channels = 3; r.config.model.inputSize = 16; }],
    ['side 256', (r) => (r.config.model.inputSize = 256)],
    ['every preprocessing choice', (r) => (r.config.preprocessing = { resize: 'fill', invert: 'never', fit: 'none' })],
    ['cover, mnist', (r) => (r.config.preprocessing = { resize: 'cover', invert: 'auto', fit: 'mnist' })],
    ['seed, limit and memory size 0, seed 2^31 − 1', (r) => { r.config.train.limit = 0; r.config.train.memorySize = 0; r.config.train.seed = 2 ** 31 - 1; }],
    ['one epoch, one batch, one R step', (r) => { r.config.train.epochs = 1; r.config.train.batchSize = 1; r.config.train.rStepsPerBatch = 1; }],
    ['neighbours 1', (r) => (r.config.train.neighbours = 1)],
    ['neighbours 1000', (r) => (r.config.train.neighbours = 1000)],
    ['no images counted', (r) => { r.trainImages = 0; r.validationImages = 0; }],
    ['one memory image of one feature', (r) => { r.memoryImages.count = 1; r.epochs[0].memory = { images: 1, features: 1 }; }],
    ['a folder report', (r) => (r.folder = { ignoredFiles: 0, skipped: [], resized: 0, colourToGrey: 0, greyToColour: 0 })],
    ['no checksums listed', (r) => (r.epochs[0].checksums = {})],
    ['a cell calibration with its file\'s checksum', (r) => {
      r.epochs[0].cells = { neighbourhood: 'pooled', topK: 1, pictures: 1, source: 'validation', local: { mean: 0, threshold: 0 }, scale: { low: -1, high: 1, cellThreshold: 0 } };
      r.epochs[0].checksums['cells.json'] = 'a'.repeat(64);
    }],
    ['local top 1', (r) => (r.config.train.localTopK = 1)],
    ['best epoch 1', (r) => (r.bestEpoch = 1)],
    ['no epochs yet', (r) => { r.epochs = []; r.batches = []; r.bestEpoch = null; }],
  ];
  for (const [what, edit] of accepted) assert.equal(runFileProblem(runWith(edit)), null, what);
});

test('each broken field is refused with the sentence that names it', () => {
  const lacks = "it lacks 'config.data', 'config.model', 'config.preprocessing' or 'config.train'";
  const validation = (e: number) => `epoch ${e}'s validation scores are not a mean and threshold for each of bce, kl, mse, ink, knn`;
  const refused: [(r: any) => void, string][] = [
    [(r) => (r.config = null), lacks],
    [(r) => delete r.config.model, lacks],
    [(r) => (r.config.train = []), lacks],
    [(r) => delete r.config.data, lacks],
    [(r) => (r.config.preprocessing = 'auto'), lacks],
    [(r) => (r.config.data.source = 'cifar'), 'config.data.source "cifar" is not one of mnist, fashion-mnist, folder'],
    [(r) => (r.config.data.class = 10), 'config.data.class is not a class 0-9'],
    [(r) => (r.config.data.class = -1), 'config.data.class is not a class 0-9'],
    [(r) => (r.config.data.class = null), 'config.data.class is not a class 0-9'],
    [(r) => (r.config.data.class = 1.5), 'config.data.class is not a class 0-9'],
    [(r) => (r.config.data.source = 'folder'), 'config.data.folder is not a path'],
    [(r) => (r.config.preprocessing.resize = 'crop'), 'config.preprocessing.resize "crop" is not one of fill, cover, contain'],
    [(r) => (r.config.preprocessing.invert = true), 'config.preprocessing.invert true is not one of auto, never'],
    [(r) => delete r.config.preprocessing.fit, 'config.preprocessing.fit undefined is not one of none, mnist, auto'],
    [(r) => (r.config.train.bce = 'sigmoid'), 'config.train.bce "sigmoid" is not \'logits\' or \'clipped\''],
    [(r) => delete r.config.train.bce, 'config.train.bce undefined is not \'logits\' or \'clipped\''],
    [(r) => (r.config.train.noveltyScore = 'psnr'), 'config.train.noveltyScore "psnr" is not one of bce, kl, mse, ink, knn, rotation, knnRotation'],
    [(r) => delete r.config.train.noveltyScore, 'config.train.noveltyScore undefined is not one of bce, kl, mse, ink, knn, rotation, knnRotation'],
    [(r) => (r.config.model.dfDim = '16'), 'config.model.dfDim is not a finite number'],
    [(r) => (r.config.train.learningRate = Infinity), 'config.train.learningRate is not a finite number'],
    [(r) => delete r.config.train.noiseStd, 'config.train.noiseStd is not a finite number'],
    [(r) => (r.config.train.neighbours = 'x'), 'config.train.neighbours is not a finite number'],
    [(r) => (r.config.train.memorySize = NaN), 'config.train.memorySize is not a finite number'],
    [(r) => (r.config.model.inputSize = 15), 'config.model.inputSize is not a side from 16 to 256'],
    [(r) => (r.config.model.inputSize = 257), 'config.model.inputSize is not a side from 16 to 256'],
    [(r) => (r.config.model.inputSize = 28.5), 'config.model.inputSize is not a side from 16 to 256'],
    [(r) => (r.config.model.channels = 2), 'config.model.channels is not 1 or 3'],
    [(r) => (r.config.model.dfDim = 0), 'config.model.dfDim is not a width from 1 to 256'],
    [(r) => (r.config.model.gfDim = 257), 'config.model.gfDim is not a width from 1 to 256'],
    [(r) => (r.config.model.dfDim = 1.5), 'config.model.dfDim is not a width from 1 to 256'],
    [(r) => (r.config.train.epochs = 0), 'config.train.epochs is not a whole number >= 1'],
    [(r) => (r.config.train.batchSize = 2.5), 'config.train.batchSize is not a whole number >= 1'],
    [(r) => (r.config.train.rStepsPerBatch = 0), 'config.train.rStepsPerBatch is not a whole number >= 1'],
    [(r) => (r.config.train.seed = -1), 'config.train.seed is not a whole number >= 0'],
    [(r) => (r.config.train.seed = 2 ** 31), 'config.train.seed is not a whole number >= 0'],
    [(r) => (r.config.train.limit = 0.5), 'config.train.limit is not a whole number >= 0'],
    [(r) => (r.config.train.memorySize = -1), 'config.train.memorySize is not a whole number >= 0'],
    [(r) => (r.config.train.memoryCoreset = 2.5), 'config.train.memoryCoreset is not a whole number >= 0'],
    [(r) => delete r.config.train.memoryCoreset, 'config.train.memoryCoreset is not a finite number'],
    [(r) => (r.config.train.neighbours = 0), 'config.train.neighbours is not a whole number from 1 to 1000'],
    [(r) => (r.config.train.neighbours = 1001), 'config.train.neighbours is not a whole number from 1 to 1000'],
    [(r) => (r.config.train.cellPooling = 'max'), 'config.train.cellPooling "max" is not one of mean, mean-max'],
    [(r) => delete r.config.train.cellPooling, 'config.train.cellPooling undefined is not one of mean, mean-max'],
    [(r) => (r.config.train.batchNormStatistics = 'batch'), 'config.train.batchNormStatistics "batch" is not one of moving, pictures'],
    [(r) => (r.config.train.cellNeighbourhood = 'near'), 'config.train.cellNeighbourhood "near" is not one of position, pooled'],
    [(r) => (r.config.train.localTopK = 0), 'config.train.localTopK is not a whole number >= 1'],
    [(r) => (r.config.train.localTopK = 2.5), 'config.train.localTopK is not a whole number >= 1'],
    [(r) => (r.epochs[0].cells = { neighbourhood: 'position' }), "epoch 1's cell calibration has no whole topK >= 1"],
    [(r) => (r.format = 'alocc'), "its 'format' is not 'alocc-run'"],
    [(r) => (r.version = 1), 'its version 1 is not supported (expected 11)'],
    [(r) => (r.version = 12), 'its version 12 is not supported (expected 11)'],
    [(r) => (r.version = 10), 'its version 10 is not supported (expected 11)'],
    [(r) => (r.version = 9), 'its version 9 is not supported (expected 11)'],
    [(r) => (r.version = 8), 'its version 8 is not supported (expected 11)'],
    [(r) => (r.config.train.cellRotationWeight = -0.5), 'config.train.cellRotationWeight is below 0'],
    [(r) => delete r.config.train.cellRotationWeight, 'config.train.cellRotationWeight is not a finite number'],
    [(r) => (r.config.train.cellPixelWeight = -1), 'config.train.cellPixelWeight is below 0'],
    [(r) => (r.config.train.cellPixelWeight = '1'), 'config.train.cellPixelWeight is not a finite number'],
    [(r) => (r.config.train.rotationCap = 0), 'config.train.rotationCap is neither null nor a number > 0'],
    [(r) => (r.config.train.rotationCap = '2'), 'config.train.rotationCap is neither null nor a number > 0'],
    [(r) => delete r.config.train.rotationCap, 'config.train.rotationCap is neither null nor a number > 0'],
    [(r) => (r.version = 7), 'its version 7 is not supported (expected 11)'],
    [(r) => (r.version = 6), 'its version 6 is not supported (expected 11)'],
    [(r) => (r.version = 4), 'its version 4 is not supported (expected 11)'],
    [(r) => (r.version = 5), 'its version 5 is not supported (expected 11)'],
    [(r) => (r.version = 3), 'its version 3 is not supported (expected 11)'],
    [(r) => delete r.version, 'its version undefined is not supported (expected 11)'],
    [(r) => (r.epochs = {}), "it lacks the 'epochs' or 'batches' list"],
    [(r) => delete r.batches, "it lacks the 'epochs' or 'batches' list"],
    [(r) => (r.backend = 5), "its 'backend' is not a string"],
    [(r) => (r.trainImages = -1), "its 'trainImages' is not a count"],
    [(r) => (r.validationImages = 1.5), "its 'validationImages' is not a count"],
    [(r) => (r.memoryImages = null), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.memoryImages.count = 0), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.memoryImages.count = 2.5), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.memoryImages.sha256 = 7), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.memoryImages.sha256 = 'b'.repeat(63)), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.memoryImages.sha256 = 'B'.repeat(64)), "its 'memoryImages' is not a count and a checksum"],
    [(r) => (r.folder = 'cats'), "its 'folder' is not an object or null"],
    [(r) => (r.folder = []), "its 'folder' is not an object or null"],
    [(r) => delete r.folder, "its 'folder' is not an object or null"],
    [(r) => (r.epochs[1].epoch = 3), 'epoch record 2 is missing or out of order'],
    [(r) => (r.epochs[0] = null), 'epoch record 1 is missing or out of order'],
    [(r) => (r.epochs[1].valReconLoss = '0.3'), "epoch 2 lacks 'valReconLoss'"],
    [(r) => delete r.epochs[0].threshold, "epoch 1 lacks 'threshold'"],
    [(r) => delete r.epochs[0].wallSeconds, "epoch 1 lacks 'wallSeconds'"],
    [(r) => delete r.epochs[0].imagesPerSecond, "epoch 1 lacks 'imagesPerSecond'"],
    [(r) => delete r.epochs[1].validation.knn, validation(2)],
    [(r) => delete r.epochs[0].validation, validation(1)],
    [(r) => (r.epochs[0].validation = null), validation(1)],
    [(r) => (r.epochs[0].validation.ink = { mean: 1 }), validation(1)],
    [(r) => (r.epochs[0].validation.bce.mean = null), validation(1)],
    [(r) => (r.epochs[0].validation.kl = 'x'), validation(1)],
    [(r) => { r.config.train.noveltyScore = 'kl'; delete r.epochs[0].validation.knn; }, validation(1)],
    [(r) => delete r.epochs[0].memory, 'epoch 1 lacks its memory\'s size'],
    [(r) => (r.epochs[1].memory.images = 0), 'epoch 2 lacks its memory\'s size'],
    [(r) => (r.epochs[0].memory.features = 0), 'epoch 1 lacks its memory\'s size'],
    [(r) => (r.epochs[0].memory.features = '1568'), 'epoch 1 lacks its memory\'s size'],
    [(r) => (r.epochs[0].mean = 5), 'the mean losses of epoch 1 is not an object'],
    [(r) => delete r.epochs[1].mean.gLoss, "the mean losses of epoch 2 lacks 'gLoss'"],
    [(r) => (r.epochs[0].checksums = null), 'epoch 1 has no valid checksums'],
    [(r) => (r.epochs[0].checksums['r/model.json'] = 'abc'), 'epoch 1 has no valid checksums'],
    [(r) => (r.epochs[0].checksums['r/model.json'] = 'A'.repeat(64)), 'epoch 1 has no valid checksums'],
    [(r) => (r.epochs[0].checksums['r/model.json'] = 7), 'epoch 1 has no valid checksums'],
    [(r) => (r.epochs[0].checksums['r/model.json'] = 'x' + 'a'.repeat(64)), 'epoch 1 has no valid checksums'],
    [(r) => (r.epochs[0].checksums['r/model.json'] = 'a'.repeat(64) + '\n'), 'epoch 1 has no valid checksums'],
    [(r) => (r.batches[0] = 'x'), 'batch record 1 is not an object'],
    [(r) => delete r.batches[0].advLoss, "batch record 1 lacks 'advLoss'"],
    [(r) => delete r.batches[0].epoch, "batch record 1 lacks 'epoch'"],
    [(r) => (r.batches[0].batch = '0'), "batch record 1 lacks 'batch'"],
    [(r) => delete r.batches[0].fractionalEpoch, "batch record 1 lacks 'fractionalEpoch'"],
    [(r) => (r.bestEpoch = 3), 'bestEpoch 3 is not among its epochs'],
    [(r) => (r.bestEpoch = 0), 'bestEpoch 0 is not among its epochs'],
    [(r) => (r.bestEpoch = 1.5), 'bestEpoch 1.5 is not among its epochs'],
    [(r) => (r.bestEpoch = null), 'bestEpoch null is not among its epochs'],
    [(r) => { r.epochs = []; r.bestEpoch = 1; }, 'bestEpoch 1 is not among its epochs'],
  ];
  for (const [edit, why] of refused) assert.equal(runFileProblem(runWith(edit)), why, `${edit}`);
  for (const v of [null, [], 'run', 3]) assert.equal(runFileProblem(v), 'not a JSON object');
});

test('the best epoch has the lowest validation reconstruction loss whatever the verdict\'s score, the first on a tie', () => {
  const e = (epoch: number, bce: number, knn: number): EpochRecord => ({ ...epochRecord(epoch), valReconLoss: bce, validation: { ...epochRecord(epoch).validation, bce: scores(bce), knn: scores(knn) } });
  // Epoch 3 has the lowest knn mean and epoch 1 the lowest threshold; neither matters.
  const epochs = [{ ...e(1, 0.3, 0.2), threshold: 0.01 }, e(2, 0.1, 0.2), e(3, 0.2, 0.05), e(4, 0.1, 0.1)];
  assert.equal(pickBestEpoch(epochs), 2);
  assert.equal(pickBestEpoch(epochs.slice(2)), 4);
  assert.equal(pickBestEpoch([]), null);
  assert.equal(pickBestEpoch([e(1, 0.3, 0.2)]), 1);
});
