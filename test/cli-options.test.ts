// The number options' parsers, in-process: the accepted ranges' edges, and the one-line message for a bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, InvalidArgumentError } from 'commander';
import { buildProgram } from '../src/cli';
import {
  addRecipeOptions, backendOption, classOption, datasetOption, digitOption, dirOption, modelOption, nameOption, recipeFrom, runSelector, trainData,
} from '../src/cli-options';

function parserOf(command: string, flag: string): (value: string) => unknown {
  const cmd = buildProgram().commands.find((c: Command) => c.name() === command)!;
  const option = cmd.options.find((o) => o.long === flag)!;
  return (value) => option.parseArg!(value, undefined);
}

function refuses(parse: (v: string) => unknown, value: string, message: string) {
  assert.throws(() => parse(value), (e: unknown) => e instanceof InvalidArgumentError && e.message === message, `'${value}'`);
}

test('whole-number options accept their range and refuse anything else with one line', () => {
  const digit = parserOf('train', '--digit');
  for (const [v, n] of [['0', 0], ['9', 9], [' 7 ', 7], ['-0', -0], ['05', 5]] as const) assert.equal(digit(v), n);
  for (const v of ['10', '-1', '1.5', '1e0', '', ' ', 'abc', '0x1', '3a']) refuses(digit, v, '--digit must be a whole number from 0 to 9.');
  const epochs = parserOf('train', '--epochs');
  assert.equal(epochs('1'), 1);
  assert.equal(epochs('10000'), 10000);
  refuses(epochs, '0', '--epochs must be a whole number from 1 to 10000.');
  refuses(epochs, '10001', '--epochs must be a whole number from 1 to 10000.');
  const seed = parserOf('train', '--seed');
  assert.equal(seed(String(2 ** 31 - 1)), 2 ** 31 - 1);
  refuses(seed, String(2 ** 31), `--seed must be a whole number from 0 to ${2 ** 31 - 1}.`);
});

test('decimal options accept their range and refuse anything else with one line', () => {
  const lr = parserOf('train', '--lr');
  for (const [v, n] of [['0.001', 0.001], ['10', 10], ['1e-4', 1e-4], [' 0.5 ', 0.5]] as const) assert.equal(lr(v), n);
  for (const v of ['0', '-1', '10.5', '', '  ', 'x', 'NaN', 'Infinity']) refuses(lr, v, '--lr must be a number above 0 to 10.');
  const rAlpha = parserOf('train', '--r-alpha');
  assert.equal(rAlpha('0'), 0);
  assert.equal(rAlpha('1e6'), 1e6);
  for (const v of ['-0.1', 'Infinity', '', '   ']) refuses(rAlpha, v, '--r-alpha must be a number from 0.');
  const noise = parserOf('train', '--noise-std');
  assert.equal(noise('0'), 0);
  assert.equal(noise('10'), 10);
  refuses(noise, '10.01', '--noise-std must be a number from 0 to 10.');
  refuses(noise, '-0.01', '--noise-std must be a number from 0 to 10.');
});

/** Throws InvalidArgumentError with exactly `message`. */
function refusesWith(f: () => unknown, message: string) {
  assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && e.message === message, message);
}

test('runSelector: one way to name a run; --class goes with --dataset', () => {
  assert.deepEqual(runSelector({ model: '/runs/a', checkpointDir: 'c' }), { model: '/runs/a', name: undefined, digit: undefined, dataset: undefined, cls: undefined, checkpointDir: 'c' });
  assert.deepEqual(runSelector({ dataset: 'fashion-mnist', class: 0, checkpointDir: 'c' }), { model: undefined, name: undefined, digit: undefined, dataset: 'fashion-mnist', cls: 0, checkpointDir: 'c' });
  assert.deepEqual(runSelector({ digit: 0, checkpointDir: 'c' }).digit, 0);
  assert.deepEqual(runSelector({ name: 'cats', checkpointDir: 'c' }).name, 'cats');
  refusesWith(() => runSelector({ class: 3 }), '--class needs --dataset (mnist or fashion-mnist).');
  refusesWith(() => runSelector({ model: 'a', name: 'b' }), '--model, --name each name a run; give one.');
  refusesWith(() => runSelector({ name: 'b', digit: 0 }), '--name, --digit each name a run; give one.');
  refusesWith(() => runSelector({ model: 'a', digit: 1, dataset: 'mnist', class: 1 }), '--model, --digit, --dataset each name a run; give one.');
  refusesWith(() => runSelector({ dataset: 'mnist' }), '--dataset needs --class to name a run.');
});

test('trainData: --data, --dataset with --class, or --digit; MNIST digit 1 when none is given', () => {
  assert.deepEqual(trainData({}), { source: 'mnist', class: 1 });
  assert.deepEqual(trainData({ digit: 0 }), { source: 'mnist', class: 0 });
  assert.deepEqual(trainData({ class: 4 }), { source: 'mnist', class: 4 });
  assert.deepEqual(trainData({ dataset: 'mnist', class: 0, digit: 0 }), { source: 'mnist', class: 0 });
  assert.deepEqual(trainData({ dataset: 'fashion-mnist' }), { source: 'fashion-mnist', class: 0 });
  assert.deepEqual(trainData({ dataset: 'fashion-mnist', class: 9 }), { source: 'fashion-mnist', class: 9 });
  assert.deepEqual(trainData({ data: '/pictures' }), { source: 'folder', folder: '/pictures' });
  for (const extra of [{ dataset: 'mnist' }, { digit: 0 }, { class: 0 }]) {
    refusesWith(() => trainData({ data: '/pictures', ...extra }), '--data trains on a folder; drop --dataset, --digit and --class.');
  }
  refusesWith(() => trainData({ dataset: 'fashion-mnist', digit: 0 }), '--digit names an MNIST digit; with --dataset fashion-mnist use --class.');
  refusesWith(() => trainData({ digit: 2, class: 0 }), '--digit and --class disagree; give one.');
});

/** A command with the recipe options, parsed from `args` as typed. */
function recipeOf(args: string[], resume = false) {
  const cmd = addRecipeOptions(new Command('train')).exitOverride().configureOutput({ writeErr: () => {} });
  cmd.parse(args, { from: 'user' });
  return recipeFrom(cmd.opts(), cmd, resume);
}

test('recipeFrom: typed beats preset beats default; on --resume an untyped setting is left to the run', () => {
  const all = (rAlpha: unknown, learningRate: unknown, noveltyScore: unknown, bce: unknown, neighbours: unknown, cellPooling: unknown, batchNormStatistics: unknown, rotation: Record<string, unknown> = {}) =>
    ({ rAlpha, learningRate, noveltyScore, bce, batchNormStatistics, neighbours, cellPooling, rotationPasses: undefined, rotationFilters: undefined, rotationAugment: undefined, rotationCap: undefined, ...rotation });
  // No --score and no --preset: the default preset's (recon-knn-rotation) for every kind of picture.
  assert.deepEqual(recipeOf([]), all(10, 0.0005, 'knnRotation', 'logits', 10, 'mean-max', 'pictures', { rotationFilters: 8, rotationAugment: 'none', rotationCap: 2 }));
  assert.deepEqual(recipeOf(['--preset', 'recon-knn']), all(10, 0.0005, 'knn', 'logits', 10, 'mean-max', 'pictures', { rotationFilters: 8, rotationAugment: 'none', rotationCap: 2 }));
  assert.deepEqual(recipeOf(['--score', 'knnRotation', '--rotation-passes', '3', '--rotation-filters', '16', '--rotation-augment', 'flip-shift', '--rotation-cap', '1.5']), all(10, 0.0005, 'knnRotation', 'logits', 10, 'mean-max', 'pictures', { rotationPasses: 3, rotationFilters: 16, rotationAugment: 'flip-shift', rotationCap: 1.5 }));
  const r = { rotationFilters: 8, rotationAugment: 'none', rotationCap: 2 };
  assert.deepEqual(recipeOf(['--preset', 'seed']), all(0.2, 0.002, 'bce', 'clipped', 10, 'mean-max', 'moving', r));
  assert.deepEqual(recipeOf(['--preset', 'recon-weighted']), all(10, 0.0005, 'kl', 'logits', 10, 'mean-max', 'moving', r));
  assert.deepEqual(recipeOf(['--preset', 'seed', '--lr', '0.01', '--score', 'knn', '--bce', 'logits', '--r-alpha', '3', '--neighbours', '9', '--cell-pooling', 'mean', '--batchnorm-statistics', 'pictures']), all(3, 0.01, 'knn', 'logits', 9, 'mean', 'pictures', r));
  // Typed values equal to the defaults still count as typed (a preset does not override them).
  assert.deepEqual(recipeOf(['--preset', 'seed', '--r-alpha', '10']), all(10, 0.002, 'bce', 'clipped', 10, 'mean-max', 'moving', r));
  assert.deepEqual(recipeOf(['--preset', 'seed', '--batchnorm-statistics', 'pictures']), all(0.2, 0.002, 'bce', 'clipped', 10, 'mean-max', 'pictures', r));
  assert.deepEqual(recipeOf([], true), all(undefined, undefined, undefined, undefined, undefined, undefined, undefined));
  assert.deepEqual(recipeOf(['--preset', 'seed-logits'], true), all(0.2, 0.002, 'bce', 'logits', undefined, undefined, 'moving'));
  assert.deepEqual(recipeOf(['--score', 'mse', '--neighbours', '7'], true), all(undefined, undefined, 'mse', undefined, 7, undefined, undefined));
  assert.deepEqual(recipeOf(['--cell-pooling', 'mean'], true), all(undefined, undefined, undefined, undefined, undefined, 'mean', undefined));
  assert.deepEqual(recipeOf(['--batchnorm-statistics', 'moving'], true), all(undefined, undefined, undefined, undefined, undefined, undefined, 'moving'));
  assert.deepEqual(recipeOf(['--r-alpha', '2', '--lr', '0.1', '--bce', 'clipped'], true), all(2, 0.1, undefined, 'clipped', undefined, undefined, undefined));
  assert.throws(() => recipeOf(['--batchnorm-statistics', 'batch']), /Allowed choices are moving, pictures\./);
  assert.throws(() => recipeOf(['--preset', 'fast']), /argument 'fast' is invalid\. Allowed choices are seed, seed-logits, recon-weighted, recon-knn, recon-knn-rotation\./);
  assert.throws(() => recipeOf(['--score', 'psnr']), /Allowed choices are bce, kl, mse, ink, knn, rotation, knnRotation\./);
  assert.throws(() => recipeOf(['--rotation-passes', '101']), /--rotation-passes must be a whole number from 0 to 100\./);
  assert.throws(() => recipeOf(['--rotation-augment', 'crop']), /Allowed choices are none, flip-shift\./);
  assert.throws(() => recipeOf(['--bce', 'sigmoid']), /Allowed choices are logits, clipped\./);
  assert.throws(() => recipeOf(['--neighbours', '1001']), /--neighbours must be a whole number from 1 to 1000\./);
  assert.throws(() => recipeOf(['--cell-pooling', 'max']), /Allowed choices are mean, mean-max\./);
  assert.throws(() => recipeOf(['--lr', '0']), /--lr must be a number above 0 to 10\./);
  assert.throws(() => recipeOf(['--r-alpha', '-1']), /--r-alpha must be a number from 0\./);
});

test('the shared options: flags, choices and defaults as the README gives them, each with a description', () => {
  const options = [digitOption(), dirOption(), datasetOption(), classOption(), nameOption(), modelOption(), backendOption()];
  assert.deepEqual(options.map((o) => [o.short, o.long]), [
    ['-d', '--digit'], [undefined, '--checkpoint-dir'], [undefined, '--dataset'], [undefined, '--class'], [undefined, '--name'], [undefined, '--model'], [undefined, '--backend'],
  ]);
  assert.equal(dirOption().defaultValue, 'checkpoints');
  assert.equal(backendOption().defaultValue, 'auto');
  assert.deepEqual(backendOption().argChoices, ['auto', 'gpu', 'node', 'wasm', 'cpu']);
  assert.deepEqual(datasetOption().argChoices, ['mnist', 'fashion-mnist']);
  assert.equal(digitOption().parseArg!('9', undefined), 9);
  refuses((v) => digitOption().parseArg!(v, undefined), '10', '--digit must be a whole number from 0 to 9.');
  refuses((v) => classOption().parseArg!(v, undefined), '-1', '--class must be a whole number from 0 to 9.');
  const recipe = addRecipeOptions(new Command('x')).options;
  assert.deepEqual(recipe.map((o) => [o.long, o.defaultValue, o.argChoices]), [
    ['--preset', undefined, ['seed', 'seed-logits', 'recon-weighted', 'recon-knn', 'recon-knn-rotation']],
    ['--r-alpha', 10, undefined],
    ['--lr', 0.0005, undefined],
    ['--score', 'knnRotation', ['bce', 'kl', 'mse', 'ink', 'knn', 'rotation', 'knnRotation']],
    ['--bce', 'logits', ['logits', 'clipped']],
    ['--neighbours', 10, undefined],
    ['--rotation-passes', 2, undefined],
    ['--rotation-filters', 8, undefined],
    ['--rotation-augment', 'none', ['none', 'flip-shift']],
    ['--rotation-cap', 2, undefined],
    ['--cell-pooling', 'mean-max', ['mean', 'mean-max']],
    ['--batchnorm-statistics', 'pictures', ['moving', 'pictures']],
  ]);
  for (const o of [...options, ...recipe]) assert.ok(o.description.length > 10, `${o.long} has a description`);
  assert.match(recipe[0].description, /default: recon-knn-rotation/);
});

test('--seeds takes distinct whole numbers separated by commas, in the order given, and refuses anything else with one line', () => {
  const seeds = parserOf('eval', '--seeds');
  assert.deepEqual(seeds('42'), [42]);
  assert.deepEqual(seeds('42,1,2'), [42, 1, 2]);
  assert.deepEqual(seeds(' 3 , 0,07'), [3, 0, 7]);
  assert.deepEqual(seeds(`0,${2 ** 31 - 1}`), [0, 2 ** 31 - 1]);
  const bad = (value: string) => `--seeds must be whole numbers from 0 to ${2 ** 31 - 1} separated by commas (e.g. 42,1,2), not '${value}'.`;
  for (const v of ['', ',', '1,', ',1', '1,,2', '-1', '1.5', '1e3', 'a', '1;2', '1 2', String(2 ** 31), `1,${2 ** 31}`]) refuses(seeds, v, bad(v));
  refuses(seeds, '1,2,1', '--seeds lists 1 twice; each seed trains one set of runs.');
  refuses(seeds, '5,5', '--seeds lists 5 twice; each seed trains one set of runs.');
  refuses(seeds, '1,2,2,1', '--seeds lists 2 twice; each seed trains one set of runs.');
});
