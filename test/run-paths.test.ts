// Where a run's files live and what a run may be called: the layout the README documents, names that stay one
// folder inside --checkpoint-dir, and the default names users type back (--name digit-1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { UsageError } from '../src/errors';
import { checkRunName, dataOfRunName, defaultRunName, EPOCH_MEMORY_FILE, epochDirFor, MEMORY_IMAGES_FILE, runDirFor, runFilePath } from '../src/run/paths';

test('a run folder holds run.json, memory-images.bin and epoch-<n>/memory.bin', () => {
  const runDir = runDirFor('/ckpt', 'digit-1');
  assert.equal(runDir, '/ckpt/digit-1');
  assert.equal(runFilePath(runDir), '/ckpt/digit-1/run.json');
  assert.equal(epochDirFor(runDir, 12), '/ckpt/digit-1/epoch-12');
  assert.equal(MEMORY_IMAGES_FILE, 'memory-images.bin');
  assert.equal(EPOCH_MEMORY_FILE, 'memory.bin');
  assert.equal(runDirFor('ckpt', 'cats-96'), path.join('ckpt', 'cats-96'));
});

test('run names: letters, digits, dot, underscore and dash, up to 100, not starting with a dot or dash', () => {
  for (const name of ['a', '0', '_x', 'digit-1', 'fashion-0', 'Cats.v2_b-3', 'a'.repeat(100), 'A'.repeat(100), 'z9']) {
    assert.equal(checkRunName(name), name);
    assert.equal(runDirFor('/c', name), `/c/${name}`);
  }
  const refused = ['', '.', '..', '.hidden', '-x', 'a/b', 'a\\b', '../up', 'a b', 'née', 'a'.repeat(101), 'x\n', '\ny', 'a:b', '*'];
  for (const name of refused) {
    assert.throws(
      () => runDirFor('/c', name),
      (e: unknown) => e instanceof UsageError &&
        e.message === `--name '${name}' is not a run name: use letters, digits, '.', '_' and '-' (up to 100, not starting with '.' or '-')`,
      JSON.stringify(name),
    );
  }
});

test("default run names: digit-<d>, fashion-<c>, or the folder's own name made safe", () => {
  assert.equal(defaultRunName({ source: 'mnist', class: 7, folder: null }), 'digit-7');
  assert.equal(defaultRunName({ source: 'fashion-mnist', class: 0, folder: null }), 'fashion-0');
  const folder = (f: string) => defaultRunName({ source: 'folder', class: null, folder: f });
  assert.equal(folder('/home/me/pictures/cats'), 'cats');
  assert.equal(folder('/home/me/pictures/cats/'), 'cats');
  assert.equal(folder('/data/my cats (2024)'), 'my_cats__2024_');
  assert.equal(folder('/data/chats-été'), 'chats-_t_');
  assert.equal(folder('/data/..cats.v2'), 'cats.v2', 'leading dots dropped');
  assert.equal(folder('/data/-.-photos'), 'photos', 'leading dashes dropped');
  assert.equal(folder(`/data/${'b'.repeat(150)}`), 'b'.repeat(100), 'cut to 100 characters');
  assert.equal(folder('/data/...'), 'images', 'nothing left: a fixed name');
  assert.equal(folder('/'), 'images');
  assert.equal(folder('relative/dogs'), 'dogs');
  // Whatever the folder is called, the default is a name runDirFor accepts.
  for (const f of ['/a/.x', '/a/~~', '/a/x y', '/a/_', '/a/-dash', '/a/--', `/a/-${'é'.repeat(120)}`]) assert.equal(checkRunName(folder(f)), folder(f), f);
});

test('dataOfRunName reads back the built-in data of a default run name, and nothing else', () => {
  for (let c = 0; c <= 9; c++) {
    for (const source of ['mnist', 'fashion-mnist'] as const) {
      const data = { source, class: c, folder: null };
      assert.deepEqual(dataOfRunName(defaultRunName(data)), data);
    }
  }
  for (const name of ['digit-10', 'digit-', 'digit-a', 'xdigit-1', 'digit-1x', 'fashion-12', 'Fashion-1', 'fashion_1', 'cats', 'digit1', ' digit-1']) {
    assert.equal(dataOfRunName(name), null, name);
  }
});
