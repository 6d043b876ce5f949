// Interrupts real training processes (the built CLI) with SIGINT / SIGTERM and resumes them.
// Signals are seen between batches, so the runs use small batches: 108 training images, 3 batches of 32 per epoch.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RunFile } from '../../src/run/runfile';
import { readRunFile } from '../../src/run/runfile-io';
import { tempDir } from '../helpers/fixtures';
import { alocc, aloccWithSignals, CLI, runWithSignals, STACK_TRACE, writeTestDigits } from '../helpers/cli';

const work = tempDir('alocc-interrupt-');
const SMALL = ['--digit', '1', '--limit', '120', '--batch-size', '32', '--seed', '5', '--backend', 'wasm'];
const EPOCH_1_DONE = /epoch 1\/\d+: recon/;
let straight: RunFile;

const dirOf = (name: string) => path.join(work, name);
const runDir = (name: string) => path.join(dirOf(name), 'digit-1');

/** Same batch losses, epoch means and validation loss, to float tolerance. */
function assertSameLosses(actual: RunFile, expected: RunFile, epochs: number) {
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b} uninterrupted`);
  assert.equal(actual.epochs.length, epochs);
  const batches = expected.batches.filter((b) => b.epoch <= epochs);
  assert.equal(actual.batches.length, batches.length);
  batches.forEach((b, i) => {
    for (const k of ['dLossReal', 'dLossFake', 'gLoss', 'reconLoss', 'advLoss'] as const) close(actual.batches[i][k], b[k], `epoch ${b.epoch} batch ${b.batch} ${k}`);
  });
  for (let e = 0; e < epochs; e++) {
    close(actual.epochs[e].valReconLoss, expected.epochs[e].valReconLoss, `epoch ${e + 1} validation loss`);
    close(actual.epochs[e].mean.gLoss, expected.epochs[e].mean.gLoss, `epoch ${e + 1} mean gLoss`);
  }
}

before(() => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  const r = alocc('train', ...SMALL, '--epochs', '2', '--checkpoint-dir', dirOf('straight'));
  assert.equal(r.code, 0, r.stderr);
  straight = readRunFile(runDir('straight'));
});

test('Ctrl-C during epoch 2: exit 130, epoch 1 kept, run.json valid, epoch 1 scores', async () => {
  const r = await aloccWithSignals(['train', ...SMALL, '--epochs', '3', '--checkpoint-dir', dirOf('int')], [{ when: EPOCH_1_DONE, send: ['SIGINT'] }]);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted; 1 complete epoch\(s\) kept .*; continue with: alocc train --digit 1 --resume --epochs 3 /);
  assert.doesNotMatch(r.stderr, /epoch 2\/3: recon/);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const run = readRunFile(runDir('int')); // throws unless valid
  assert.equal(run.epochs.length, 1);
  assert.ok(!fs.existsSync(path.join(runDir('int'), 'epoch-2')), 'no checkpoint for the abandoned epoch');
  const png = writeTestDigits(work, 1, 1)[0];
  const s = alocc('score', '--json', '--epoch', '1', '--checkpoint-dir', dirOf('int'), '--backend', 'wasm', png);
  assert.equal(s.code, 0, s.stderr);
  // Scored with epoch 1's networks and the threshold recorded for epoch 1.
  const row = JSON.parse(s.stdout);
  assert.equal(row.threshold, run.epochs[0].threshold);
  assert.equal(row.verdict, row.novelty > run.epochs[0].threshold ? 'novel' : 'normal');
  assert.equal(row.verdict, 'normal', `a test 1 passes (measured: knn 0.044 against 0.085): ${s.stdout}`);
});

test('SIGTERM during epoch 2, then --resume: exit 143, and the same losses as an uninterrupted run', async () => {
  const r = await aloccWithSignals(['train', ...SMALL, '--epochs', '2', '--checkpoint-dir', dirOf('term')], [{ when: EPOCH_1_DONE, send: ['SIGTERM'] }]);
  assert.equal(r.code, 143, r.stderr);
  assert.equal(readRunFile(runDir('term')).epochs.length, 1);
  // The command the message suggests is the one that works: it repeats the run's non-default settings.
  const suggested = /continue with: alocc (.*)$/m.exec(r.stderr)?.[1];
  assert.equal(suggested, `train --digit 1 --resume --epochs 2 --batch-size 32 --seed 5 --limit 120 --checkpoint-dir ${dirOf('term')}`);
  const resumed = alocc(...suggested!.split(' '), '--backend', 'wasm');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming .* after epoch 1/);
  assertSameLosses(readRunFile(runDir('term')), straight, 2);
});

test('a second Ctrl-C or SIGTERM quits at once, while the first lets the current unit of work finish', async () => {
  const child = path.join(__dirname, '..', 'helpers', 'signal-child.ts');
  for (const [first, second, code] of [['SIGINT', 'SIGINT', 130], ['SIGTERM', 'SIGINT', 130], ['SIGINT', 'SIGTERM', 143]] as const) {
    const r = await runWithSignals(process.execPath, ['--import', 'tsx', child], [
      { when: /ready/, send: [first] },
      { when: /finishing slowly/, send: [second] },
    ]);
    assert.equal(r.code, code, `${first} then ${second}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${first}: finishing \\(again to quit at once\\)`));
    assert.ok(r.seconds < 15, `quit after ${r.seconds} s`);
  }
});

test('Ctrl-C during epoch 1 leaves a run with no epochs that --resume starts from scratch, as a fresh run would', async () => {
  const r = await aloccWithSignals(['train', ...SMALL, '--epochs', '2', '--checkpoint-dir', dirOf('early')], [{ when: /training on MNIST digit 1:/, send: ['SIGINT'] }]);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /0 complete epoch\(s\) kept/);
  assert.equal(readRunFile(runDir('early')).epochs.length, 0);
  const resumed = alocc('train', ...SMALL, '--epochs', '1', '--resume', '--checkpoint-dir', dirOf('early'));
  assert.equal(resumed.code, 0, resumed.stderr);
  assertSameLosses(readRunFile(runDir('early')), straight, 1);
});

test('--resume with other settings refuses, naming each differing setting, before training', () => {
  const r = alocc('train', ...SMALL.map((a) => (a === '32' ? '16' : a)), '--lr', '0.001', '--cell-pooling', 'mean', '--epochs', '3', '--resume', '--checkpoint-dir', dirOf('straight'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot resume .*: --batch-size \(run 32, now 16\), --lr \(run 0\.0005, now 0\.001\), --cell-pooling \(run "mean-max", now "mean"\); continue it with: alocc train --digit 1 --resume --epochs 3 --batch-size 32 --seed 5 --limit 120 /);
  assert.doesNotMatch(r.stderr, /training on MNIST digit/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(readRunFile(runDir('straight')).epochs.length, 2, 'the run is untouched');
});

test('a second training of a run that is being trained is refused; a killed one\'s lock and leftovers are cleaned up', async () => {
  const dir = dirOf('locked');
  const refusals: string[] = [];
  const first = await aloccWithSignals(['train', ...SMALL, '--epochs', '3', '--checkpoint-dir', dir], [{
    when: /training on MNIST digit 1:/,
    run: () => {
      for (const how of ['--resume', '--overwrite']) {
        const r = alocc('train', ...SMALL, '--epochs', '3', how, '--checkpoint-dir', dir);
        refusals.push(`${r.code} ${r.stderr.trim()}`);
      }
    },
    send: ['SIGINT'],
  }]);
  assert.equal(first.code, 130, first.stderr);
  for (const r of refusals) assert.match(r, /^1 alocc: \S+ is being trained by process \d+; wait for it/);
  assert.ok(!fs.existsSync(path.join(runDir('locked'), '.lock')), 'the lock is released on the way out');

  // What `kill -9` can leave: a lock of a process that is gone, temporary copies, epoch 1 moved aside mid-replace.
  const rd = runDir('straight');
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  fs.writeFileSync(path.join(rd, '.lock'), `${gone}\n`);
  fs.mkdirSync(path.join(rd, '.epoch-3.tmp-123'));
  fs.writeFileSync(path.join(rd, '.run.json.tmp-123'), '{');
  fs.renameSync(path.join(rd, 'epoch-2'), path.join(rd, '.epoch-2.old-123'));
  const r = alocc('train', ...SMALL, '--epochs', '3', '--resume', '--checkpoint-dir', dirOf('straight'));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(rd).sort(), ['epoch-1', 'epoch-2', 'epoch-3', 'memory-images.bin', 'run.json', 'validation-images.bin']);
});
