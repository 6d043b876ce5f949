// The settings a user reads in the README (defaults, presets, score names) and the comparison --resume makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_CHOICES, describeBackend } from '../src/backend-choice';
import {
  BUILT_IN_PREPROCESSING, configDifferences, DATASETS, FASHION_CLASSES, DEFAULT_FOLDER_SIZE, DEFAULT_MODEL_CONFIG, DEFAULT_PRESET, DEFAULT_TRAIN_CONFIG, FOLDER_PREPROCESSING, MAX_INPUT_SIZE, MIN_INPUT_SIZE, NOVELTY_SCORES, PRESET_NAMES, PRESETS, RESUMABLE_CHANGES, RunConfig, stepBatchSize,
} from '../src/config';
import { RATED_SCORES } from '../src/score/registry';

test('the defaults and presets are the ones the README documents', () => {
  assert.deepEqual(DEFAULT_MODEL_CONFIG, { inputSize: 28, channels: 1, dfDim: 16, gfDim: 16 });
  assert.deepEqual(DEFAULT_TRAIN_CONFIG, {
    epochs: 5, batchSize: 128, rAlpha: 10, learningRate: 0.0005, clipValue: 1, noiseStd: 0.155, bce: 'logits',
    rStepsPerBatch: 2, validationFraction: 0.1, thresholdPercentile: 95, noveltyScore: 'knnRotation', neighbours: 10, cellPooling: 'mean-max', batchNormStatistics: 'pictures', memorySize: 4096, memoryCoreset: 1000, cellNeighbourhood: 'position', localTopK: 3, cellRotationWeight: 0.7, cellPixelWeight: 1.5,
    rotationPasses: 2, rotationBatchSize: 32, rotationFilters: 8, rotationLearningRate: 0.001, rotationAugment: 'none', rotationCap: 2,
    seed: 42, limit: 0,
  });
  // README, "alocc train": --size 16-256, 64 for folders; --resize fill for folders; built-in sets framed like MNIST.
  assert.deepEqual([MIN_INPUT_SIZE, MAX_INPUT_SIZE, DEFAULT_FOLDER_SIZE], [16, 256, 64]);
  assert.deepEqual(FOLDER_PREPROCESSING, { resize: 'fill', invert: 'never', fit: 'none' });
  assert.deepEqual(BUILT_IN_PREPROCESSING, { resize: 'contain', invert: 'auto', fit: 'auto' });
  assert.equal(DEFAULT_PRESET, 'recon-knn-rotation');
  assert.deepEqual(PRESET_NAMES, ['seed', 'seed-logits', 'recon-weighted', 'recon-knn', 'recon-knn-rotation']);
  // README, "Presets": r-alpha, lr, bce, score, BatchNorm statistics.
  const table = {
    seed: [0.2, 0.002, 'clipped', 'bce', 'moving'],
    'seed-logits': [0.2, 0.002, 'logits', 'bce', 'moving'],
    'recon-weighted': [10, 0.0005, 'logits', 'kl', 'moving'],
    'recon-knn': [10, 0.0005, 'logits', 'knn', 'pictures'],
    'recon-knn-rotation': [10, 0.0005, 'logits', 'knnRotation', 'pictures'],
  };
  for (const [name, [rAlpha, learningRate, bce, noveltyScore, batchNormStatistics]] of Object.entries(table)) {
    assert.deepEqual(PRESETS[name as keyof typeof PRESETS], { rAlpha, learningRate, noveltyScore, bce, batchNormStatistics }, name);
  }
  assert.deepEqual(NOVELTY_SCORES, ['bce', 'kl', 'mse', 'ink', 'knn', 'rotation', 'knnRotation']);
  assert.deepEqual(Object.fromEntries(RATED_SCORES.filter((d) => (NOVELTY_SCORES as readonly string[]).includes(d.name)).map((d) => [d.name, d.title])), {
    bce: 'reconstruction loss (BCE)', kl: 'KL error', mse: 'mean squared error', ink: 'ink-normalised error', knn: 'nearest-neighbour distance in R\'s features',
    rotation: 'rotation score', knnRotation: 'kNN distance plus rotation score',
  });
  assert.deepEqual(RESUMABLE_CHANGES, ['epochs']);
  assert.deepEqual(BACKEND_CHOICES, ['auto', 'gpu', 'node', 'wasm', 'cpu']);
  assert.deepEqual(DATASETS, ['mnist', 'fashion-mnist', 'folder']);
  // Zalando's Fashion-MNIST README, labels 0-9.
  assert.deepEqual(FASHION_CLASSES, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
});

const config = (): RunConfig => ({
  data: { source: 'mnist', class: 1, folder: null },
  model: { ...DEFAULT_MODEL_CONFIG },
  preprocessing: { ...BUILT_IN_PREPROCESSING },
  train: { ...DEFAULT_TRAIN_CONFIG },
});

test('configDifferences names every changed setting with both values, except the epochs', () => {
  assert.deepEqual(configDifferences(config(), config()), []);
  const other = config();
  other.train.epochs = 9;
  assert.deepEqual(configDifferences(config(), other), [], 'a resumed run may train longer');
  other.model.dfDim = 8;
  other.train.learningRate = 0.001;
  other.train.noveltyScore = 'kl';
  assert.deepEqual(configDifferences(config(), other), ['dfDim (run 16, now 8)', 'learningRate (run 0.0005, now 0.001)', 'noveltyScore (run "knnRotation", now "kl")']);
  // Every section is compared, in the order data, model, preprocessing, train.
  other.data.class = 7;
  other.preprocessing.resize = 'fill';
  assert.deepEqual(configDifferences(config(), other), [
    'class (run 1, now 7)', 'dfDim (run 16, now 8)', 'resize (run "contain", now "fill")', 'learningRate (run 0.0005, now 0.001)', 'noveltyScore (run "knnRotation", now "kl")',
  ]);
  // A setting one side lacks (a run from before the option) differs too; 'epochs' only in train is exempt.
  const old = config();
  delete (old.train as Partial<RunConfig['train']>).neighbours;
  assert.deepEqual(configDifferences(old, config()), ['neighbours (run undefined, now 10)']);
  assert.deepEqual(configDifferences(config(), old), ['neighbours (run 10, now undefined)']);
  for (const section of ['data', 'model', 'preprocessing'] as const) {
    const withEpochs = config();
    (withEpochs[section] as unknown as Record<string, number>).epochs = 3;
    assert.deepEqual(configDifferences(config(), withEpochs), ['epochs (run undefined, now 3)'], section);
  }
});

test('the backend line: the label, then why each native backend was skipped, if any', () => {
  assert.equal(describeBackend({ requested: 'auto', name: 'wasm', label: 'wasm', skipped: [] }), 'backend: wasm');
  assert.equal(
    describeBackend({ requested: 'auto', name: 'cpu', label: 'cpu', skipped: ['gpu: not installed', 'node: not installed'] }),
    'backend: cpu; skipped: gpu: not installed; node: not installed',
  );
});

test('stepBatchSize: the configured batch while it gives four steps an epoch, else the largest power of two that does', () => {
  // 5,400 MNIST images of a class: 1,350 a step would still give four steps, so 128 stays.
  assert.equal(stepBatchSize(5400, 128), 128);
  assert.equal(stepBatchSize(512, 128), 128); // exactly four steps of 128
  assert.equal(stepBatchSize(511, 128), 64); // 511 / 4 = 127.75 → 64
  assert.equal(stepBatchSize(166, 128), 32); // 41.5 → 32
  assert.equal(stepBatchSize(106, 128), 16); // 26.5 → 16
  assert.equal(stepBatchSize(64, 128), 16); // 16 exactly
  assert.equal(stepBatchSize(11, 128), 4); // 2.75 → 2, raised to the floor of 4
  assert.equal(stepBatchSize(100, 8), 8); // a small batch asked for is kept
  assert.equal(stepBatchSize(20, 8), 4); // 5 → 4
});
