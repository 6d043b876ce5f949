// `alocc eval --masks` through the built CLI with bad masks: a missing, a mis-sized and a non-binary mask are one
// warning line each naming the file and what to do, every picture is still scored, the localisation numbers come
// from the masks left, and the exit code is 1; a masks folder that is not there is one line, exit 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mnistSource, writeBench } from '../../bench/localisation/build';
import { aloccWith, STACK_TRACE } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';
import { spoilThreeMasks } from '../helpers/masks';

const work = tempDir('alocc-eval-masks-');
const inWork = (...args: string[]) => aloccWith({ cwd: work }, ...args);
const evalArgs = ['eval', '--model', path.join('ckpt', 'digit-3'), '--normal', path.join('bench', 'normal'), '--novel', path.join('bench', 'defective'), '--backend', 'wasm'];

before(async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 3, { epochs: 1, model: SMALL_MODEL });
  writeBench(mnistSource(3), path.join(work, 'bench'), 6, 0);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('eval --masks with a missing, a mis-sized and a non-binary mask: one line each, the rest scored, exit 1', () => {
  const masks = path.join(work, 'bench', 'masks');
  const names = spoilThreeMasks(masks, 10, 7);
  const r = inWork(...evalArgs, '--masks', path.join('bench', 'masks'));
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 3, r.stderr);
  assert.match(warnings[0], new RegExp(`^warning: bench/masks/${names[0]}: no mask for bench/defective/${names[0]}; save a black-and-white PNG of that name`));
  assert.match(warnings[1], new RegExp(`^warning: bench/masks/${names[1]}: mask is 30x30 but its picture bench/defective/${names[1]} is 28x28; save the mask at the picture's own size`));
  assert.match(warnings[2], new RegExp(`^warning: bench/masks/${names[2]}: mask is not binary \\(1 pixels are neither black 0 nor white 255, the first at x=10 y=0: 7,7,7\\)`));
  assert.match(r.stdout, /localisation \(3 masks, cells by position\): .*; 3 masks left out/);
  const report = JSON.parse(fs.readFileSync(path.join(work, 'ckpt', 'digit-3', 'eval', 'report.json'), 'utf8'));
  assert.equal(report.localisation.masks, 3);
  assert.equal(report.localisation.pixelPictures, 6 + 3, 'every intact picture and the three defective ones with masks');
});

test('eval --masks naming no folder: one line, exit 2, nothing scored', () => {
  const r = inWork(...evalArgs, '--masks', 'no-such-masks');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, 'alocc: no-such-masks: no such folder of masks; give --masks a folder holding one PNG per test picture\n');
  assert.equal(r.stdout, '');
});
