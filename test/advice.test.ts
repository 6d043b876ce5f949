// The CLI's words for what to do next (src/commands/advice.ts): each refusal's facts become the command line a user
// types, spelt out here in full as the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { adviceText, explain } from '../src/commands/advice';
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig } from '../src/config';
import { AloccError, EXIT } from '../src/errors';
import { refusal } from '../src/run/advice';

const elsewhere = path.join('/tmp', 'runs');

test('a folder with no run: the command that trains the run its name stands for, in its checkpoint folder', () => {
  assert.equal(adviceText({ kind: 'create', runDir: path.join(elsewhere, 'digit-4') }), `; create one with: alocc train --digit 4 --checkpoint-dir ${elsewhere}`);
  assert.equal(adviceText({ kind: 'create', runDir: path.join('checkpoints', 'fashion-6') }), '; create one with: alocc train --dataset fashion-mnist --class 6');
  assert.equal(adviceText({ kind: 'create', runDir: path.join(elsewhere, 'cats') }), `; create one with: alocc train --data <folder> --name cats --checkpoint-dir ${elsewhere}`);
  assert.equal(adviceText({ kind: 'create', runDir: path.join(elsewhere, 'digit-42') }), `; create one with: alocc train --data <folder> --name digit-42 --checkpoint-dir ${elsewhere}`);
});

test('older runs: retrain from what they trained on, named where the name is not the default', () => {
  assert.equal(adviceText({ kind: 'retrain-0.1', runDir: path.join(elsewhere, 'digit-1'), digit: 1 }), '; retrain it with: alocc train --digit 1 --overwrite');
  assert.equal(adviceText({ kind: 'retrain-0.1', runDir: path.join(elsewhere, 'ones'), digit: 1 }), '; retrain it with: alocc train --digit 1 --overwrite --name ones');
  assert.equal(adviceText({ kind: 'retrain-0.1', runDir: path.join(elsewhere, 'digit-1'), digit: null }), '; retrain it with: alocc train --digit <d> --overwrite --name digit-1');
  assert.equal(
    adviceText({ kind: 'retrain', runDir: path.join(elsewhere, 'sevens'), data: { source: 'mnist', class: 7 } }),
    `; retrain it with: alocc train --digit 7 --name sevens --checkpoint-dir ${elsewhere} --overwrite`,
  );
  assert.equal(adviceText({ kind: 'retrain', runDir: path.join('checkpoints', 'x'), data: undefined }), '; retrain it with: alocc train --data <folder> --name x --overwrite');
  // A Fashion-MNIST run under its default name: no --name.
  assert.equal(
    adviceText({ kind: 'retrain', runDir: path.join('checkpoints', 'fashion-3'), data: { source: 'fashion-mnist', class: 3 } }),
    '; retrain it with: alocc train --dataset fashion-mnist --class 3 --overwrite',
  );
});

test('resuming: every setting that is not the default, the differences by option name, the lead-in by why', () => {
  const config: RunConfig = {
    data: { source: 'mnist', class: 1, folder: null },
    model: DEFAULT_MODEL_CONFIG,
    preprocessing: BUILT_IN_PREPROCESSING,
    train: { ...DEFAULT_TRAIN_CONFIG, epochs: 3, batchSize: 32, learningRate: 0.001 },
  };
  const command = `alocc train --digit 1 --resume --epochs 3 --batch-size 32 --lr 0.001 --checkpoint-dir ${elsewhere}`;
  assert.equal(adviceText({ kind: 'resume', config, name: 'digit-1', checkpointDir: elsewhere, interrupted: true }), `; continue with: ${command}`);
  assert.equal(adviceText({ kind: 'resume', config, name: 'digit-1', checkpointDir: elsewhere }), `; continue it with: ${command}, or start over with --overwrite`);
  assert.equal(
    adviceText({ kind: 'resume', config, name: 'my run', checkpointDir: 'checkpoints', differences: ['batchSize (run 32, now 16)', 'clipValue (run 1, now 2)'] }),
    ": --batch-size (run 32, now 16), clipValue (run 1, now 2); continue it with: alocc train --digit 1 --name 'my run' --resume --epochs 3 --batch-size 32 --lr 0.001, or start over with --overwrite",
  );
  assert.equal(adviceText({ kind: 'start', data: { source: 'folder', class: null, folder: '/pics/cats' }, name: 'cats' }), '; start with: alocc train --data /pics/cats');
});

test('explain: an AloccError\'s message and its advice, anything else its first line', () => {
  const err = refusal('no trained run found in x', { kind: 'first-run' }, EXIT.usage);
  assert.equal(err.exitCode, EXIT.usage);
  assert.equal(err.message, 'no trained run found in x');
  assert.equal(explain(err), 'no trained run found in x; train one with: alocc train --digit 1 (or --data <folder>)');
  assert.equal(explain(refusal('r has no completed epoch yet', { kind: 'finish' })), 'r has no completed epoch yet; finish its training with --resume (alocc train ... --resume)');
  assert.equal(explain(new AloccError('plain')), 'plain');
  assert.equal(explain(new Error('first\nsecond')), 'first');
});
