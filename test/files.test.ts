import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AloccError } from '../src/errors';
import { findPngs } from '../src/data/files';

async function collect(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const file of findPngs(paths)) found.push(file);
  return found;
}

test('findPngs: files as given, directories walked recursively in sorted order, missing paths passed on', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-files-'));
  try {
    const touch = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), '');
    };
    ['d/b.png', 'd/a.PNG', 'd/notes.txt', 'd/sub/z.png', 'd/sub/deeper/y.Png', 'd/c.png.bak', 'd/e.png', 'photo.jpg'].forEach(touch);
    fs.mkdirSync(path.join(root, 'd/empty'));
    fs.mkdirSync(path.join(root, 'd/looks-like.png')); // a directory named *.png is walked, not yielded
    fs.symlinkSync(path.join(root, 'd'), path.join(root, 'd/sub/loop')); // a cycle must not be re-entered
    const d = (rel: string) => path.join(root, 'd', rel);
    const found = await collect([path.join(root, 'photo.jpg'), path.join(root, 'd'), path.join(root, 'nope.png')]);
    assert.deepEqual(found, [
      path.join(root, 'photo.jpg'),
      d('a.PNG'),
      d('b.png'),
      d('e.png'),
      d('sub/deeper/y.Png'),
      d('sub/z.png'),
      path.join(root, 'nope.png'),
    ]);
    // Streaming: the first file comes out before the rest of the tree is read.
    const iterator = findPngs([path.join(root, 'd')]);
    assert.equal((await iterator.next()).value, d('a.PNG'));
    await iterator.return(undefined);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('findPngs: an unreadable directory is reported by name', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-files-'));
  const locked = path.join(root, 'locked');
  fs.mkdirSync(locked);
  // Tests run as root in CI, where chmod 000 does not stop reads: refuse the listing the way the kernel would.
  const readdir = fs.promises.readdir;
  fs.promises.readdir = (async (dir: fs.PathLike, opts?: unknown) => {
    if (String(dir) === locked) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    return (readdir as (d: fs.PathLike, o?: unknown) => Promise<unknown>)(dir, opts);
  }) as typeof fs.promises.readdir;
  try {
    await assert.rejects(collect([root]), (err: unknown) => err instanceof AloccError && err.message === `${locked}: cannot list directory (EACCES)`);
  } finally {
    fs.promises.readdir = readdir;
    fs.rmSync(root, { recursive: true, force: true });
  }
});
