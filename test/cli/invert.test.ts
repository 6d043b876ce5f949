// `alocc score --invert / --no-invert`: typed either way the choice is forced for every picture; untyped, each
// picture is inverted only if it is dark on light.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { alocc, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('alocc-invert-');
const ckpt = path.join(work, 'ckpt');
let light = '';
let dark = '';

before(async () => {
  await makeFakeRun(ckpt, 1, { model: SMALL_MODEL });
  light = writeTestDigits(path.join(work, 'img'), 1, 1)[0];
  // The same digit drawn dark on light, as a scan of ink on paper.
  const png = PNG.sync.read(fs.readFileSync(light));
  for (let i = 0; i < png.data.length; i += 4) for (let c = 0; c < 3; c++) png.data[i + c] = 255 - png.data[i + c];
  dark = path.join(work, 'img', 'dark.png');
  fs.writeFileSync(dark, PNG.sync.write(png));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

function inverted(...args: string[]): boolean[] {
  const r = alocc('score', '--json', '--checkpoint-dir', ckpt, ...args, light, dark);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((line) => JSON.parse(line).inverted);
}

test('score inverts dark-on-light pictures unless told, and forces the choice when told either way', () => {
  assert.deepEqual(inverted(), [false, true], 'untyped: detected per picture');
  assert.deepEqual(inverted('--invert'), [true, true]);
  assert.deepEqual(inverted('--no-invert'), [false, false]);
  // The last one typed wins, as for any commander option.
  assert.deepEqual(inverted('--invert', '--no-invert'), [false, false]);
});
