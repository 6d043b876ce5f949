// scripts/check-imports.js, which `npm test` runs: src/ passes, and a planted circle or upward import is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/fixtures';

const SCRIPT = path.join(__dirname, '..', 'scripts', 'check-imports.js');

function check(dir?: string) {
  const r = spawnSync(process.execPath, [SCRIPT, ...(dir ? [dir] : [])], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

function tree(files: Record<string, string>): string {
  const root = tempDir('alocc-imports-');
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  return root;
}

test('src/ has no import circle and no import up the floors', () => {
  const r = check();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /no circle, every import runs down the floors/);
});

test('an upward import, a sideways one, a circle and a room with no floor are each named', () => {
  const root = tree({
    'config.ts': "import type { X } from './score/registry';\nexport const A = 1;\n",
    'score/registry.ts': "import { A } from '../config';\nexport type X = number;\n",
    'score/scorer.ts': "export const S = 1;\n",
    'train/step.ts': "// import { P } from '../plot/chart'; a comment is no import\nexport const T = 1;\n",
    'plot/chart.ts': "import { T } from '../train/step';\nexport const P = T;\n",
    'models/r.ts': "export const R = () => import('../score/scorer');\n",
    'attic/old.ts': "export const O = 1;\n",
  });
  const r = check(root);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /config\.ts → .*score\/registry\.ts: config imports score, a higher floor/);
  assert.match(r.out, /plot\/chart\.ts → .*train\/step\.ts: plot imports train, its own floor/);
  assert.match(r.out, /models\/r\.ts → .*score\/scorer\.ts: models imports score, a higher floor/);
  assert.match(r.out, /circle: .*config\.ts → .*score\/registry\.ts → .*config\.ts/);
  assert.match(r.out, /attic\/old\.ts: room 'attic' has no floor/);
  assert.doesNotMatch(r.out, /train\/step\.ts →/, 'a commented-out import is no import');
  assert.match(r.out, /import check: 5 problem\(s\)/);
});
