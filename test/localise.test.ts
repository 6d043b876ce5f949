import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir, useCpuBackend } from './helpers/fixtures';
import { mnistSource, writeBench } from '../bench/localisation/build';
import { evalCommand } from '../src/commands/eval';
import { renderSummary } from '../src/eval/report';
import { runDirFor } from '../src/run/paths';
import { spoilThreeMasks } from './helpers/masks';
import { makeFakeRun, SMALL_MODEL } from './helpers/fake-run';

let dir: string;
let bench: string;

before(async () => {
  await useCpuBackend();
  dir = tempDir('alocc-localise-');
  await makeFakeRun(dir, 3, { epochs: 1, model: SMALL_MODEL });
  bench = path.join(dir, 'bench');
  writeBench(mnistSource(3), bench, 12, 0);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('eval --masks: image AUROC, pixel AUROC and PRO; a missing, mis-sized or non-binary mask is one warning line each, the rest scored', async () => {
  const masks = path.join(bench, 'masks');
  const names = spoilThreeMasks(masks, 400, 128);
  const written: string[] = [];
  const stream = { isTTY: false, write: (t: string) => (written.push(t), true) } as unknown as NodeJS.WriteStream;
  const report = await evalCommand(
    { digit: 3, checkpointDir: dir, json: false, draws: 2, seed: 1, backend: 'cpu', normal: path.join(bench, 'normal'), novel: path.join(bench, 'defective'), masks },
    { print: () => {}, progressStream: stream },
  );
  const warnings = written.filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 3, written.join(''));
  assert.match(warnings[0], new RegExp(`${names[0]}: no mask for .*${names[0]}; save a black-and-white PNG`));
  assert.match(warnings[1], /mask is 30x30 but its picture .* is 28x28/);
  assert.match(warnings[2], /mask is not binary \(1 pixels/);
  for (const w of warnings) assert.ok(w.endsWith('\n') && !w.slice(0, -1).includes('\n'));
  // Nothing else lost: every picture scored by every score, and the localisation over the 9 masks left.
  assert.equal(report.testImages.scored, 24);
  assert.ok(report.scores.every((s) => Number.isFinite(s.auroc)));
  const loc = report.localisation!;
  assert.equal(loc.masks, 9);
  assert.equal(loc.pixelPictures, 12 + 9);
  for (const v of [loc.imageAuroc, loc.pixelAuroc, loc.pro]) assert.ok(v >= 0 && v <= 1, `${v}`);
  // (The test run's untrained two-channel networks find little: bench/NOTES.md has trained runs' numbers.)
  assert.match(renderSummary(report), /localisation \(9 masks, cells by position\): image AUROC of the 3 largest cell distances 0\.\d{4}, pixel AUROC 0\.\d{4}, PRO to 30 % FPR 0\.\d{4}; 3 masks left out/);
  // The same search on raw pixel cells beside it, over the same pictures.
  assert.equal(loc.topK, 3);
  assert.equal(loc.baseline.pixelPictures, 12 + 9);
  for (const v of [loc.baseline.imageAuroc, loc.baseline.pixelAuroc, loc.baseline.pro]) assert.ok(v >= 0 && v <= 1, `${v}`);
  assert.match(renderSummary(report), /\n  raw-pixel cells \(baseline\): image AUROC 0\.\d{4}, pixel AUROC 0\.\d{4}, PRO 0\.\d{4}/);
  const markdown = fs.readFileSync(path.join(runDirFor(dir, 'digit-3'), 'eval', 'report.md'), 'utf8');
  assert.match(markdown, /## Where it is novel: the maps against the masks[\s\S]*\| R's first block \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \|\n\| raw pixels \(baseline\) \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \|/);
  const saved = JSON.parse(fs.readFileSync(path.join(runDirFor(dir, 'digit-3'), 'eval', 'report.json'), 'utf8'));
  assert.equal(saved.localisation.masks, 9);
});

test('eval --masks without --normal/--novel is one line', async () => {
  await assert.rejects(
    evalCommand({ digit: 3, checkpointDir: dir, json: false, draws: 2, seed: 1, backend: 'cpu', masks: bench }, { print: () => {} }),
    /--masks grades your own defective pictures: give --normal DIR --novel DIR with it/,
  );
  // A masks folder that is not there is refused before anything is scored.
  await assert.rejects(
    evalCommand({ digit: 3, checkpointDir: dir, json: false, draws: 2, seed: 1, backend: 'cpu', normal: bench, novel: bench, masks: path.join(dir, 'nope') }, { print: () => {} }),
    /nope: no such folder of masks; give --masks a folder holding one PNG per test picture/,
  );
});
