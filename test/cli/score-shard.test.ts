// `alocc score --shard i/n` and `--shard-count n` with $JOB_COMPLETION_INDEX: n machines, each scoring its own
// part of a folder, together score every picture exactly once, wherever the folder is mounted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aloccWith, CLI, STACK_TRACE } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';
import { encodeGreyPng } from '../helpers/grey-png';

const work = tempDir('alocc-shard-');
const run = path.join(work, 'ckpt', 'digit-1');
const folder = path.join(work, 'data');
const SHARDS = 3;
/** Relative paths of the pictures below `folder`. */
const pictures: string[] = [];

function score(args: string[], env: NodeJS.ProcessEnv = {}, cwd = work) {
  const r = aloccWith({ cwd, env: { JOB_COMPLETION_INDEX: '', ...env } }, 'score', '--json', '--model', run, '--backend', 'cpu', ...args);
  return { code: r.code, stderr: r.stderr, rows: r.stdout.trim() ? r.stdout.trim().split('\n').map((l) => JSON.parse(l)) : [] };
}

before(async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 1, { model: SMALL_MODEL });
  for (let i = 0; i < 24; i++) {
    const rel = path.join(`part-${i % 3}`, `${i}.png`);
    fs.mkdirSync(path.join(folder, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(folder, rel), encodeGreyPng(new Uint8Array(784).fill(i * 10), 28, 28));
    pictures.push(rel);
  }
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('--shard i/n: the shards are disjoint, together every picture once, each picture where the hash of its path puts it', () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < SHARDS; i++) {
    const r = score(['--shard', `${i}/${SHARDS}`, folder]);
    assert.equal(r.code, 0, r.stderr);
    for (const row of r.rows) {
      const rel = path.relative(folder, row.file);
      assert.ok(!seen.has(rel), `${rel} in shards ${seen.get(rel)} and ${i}`);
      seen.set(rel, i);
    }
  }
  assert.deepEqual([...seen.keys()].sort(), [...pictures].sort());
  // The rule README states: the first 4 bytes of SHA-256 of the '/'-separated path below the folder, modulo n.
  for (const [rel, shard] of seen) assert.equal(createHash('sha256').update(rel.split(path.sep).join('/')).digest().readUInt32BE(0) % SHARDS, shard, rel);
  assert.ok(new Set(seen.values()).size === SHARDS, 'no shard is empty for 24 pictures');
});

test('$JOB_COMPLETION_INDEX with --shard-count gives the same shard as --shard; a copy of the folder elsewhere splits the same way', () => {
  const copy = path.join(work, 'mounted', 'elsewhere');
  fs.cpSync(folder, copy, { recursive: true });
  for (let i = 0; i < SHARDS; i++) {
    const named = score(['--shard', `${i}/${SHARDS}`, folder]).rows.map((r) => path.relative(folder, r.file));
    const indexed = score(['--shard-count', String(SHARDS), 'elsewhere'], { JOB_COMPLETION_INDEX: String(i) }, path.dirname(copy));
    assert.equal(indexed.code, 0, indexed.stderr);
    assert.deepEqual(indexed.rows.map((r) => path.relative('elsewhere', r.file)), named);
  }
});

test('bad shard settings are one-line usage errors (exit 2)', () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--shard', '3/3'], {}, /--shard i must be a whole number from 0 to 2/],
    [['--shard', '1-3'], {}, /--shard must be i\/n/],
    [['--shard', '0/0'], {}, /--shard n must be a whole number from 1/],
    [['--shard-count', '3'], {}, /needs the shard index in \$JOB_COMPLETION_INDEX/],
    [['--shard-count', '3'], { JOB_COMPLETION_INDEX: '5' }, /\$JOB_COMPLETION_INDEX must be a whole number from 0 to 2/],
    [['--shard', '0/3', '--shard-count', '3'], {}, /exclude each other/],
  ];
  for (const [args, env, why] of cases) {
    const r = score([...args, folder], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, STACK_TRACE);
  }
});
