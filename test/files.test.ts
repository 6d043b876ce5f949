import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AloccError } from '../src/errors';
import { findImages, listImages } from '../src/data/files';

async function collect(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const file of findImages(paths)) found.push(file);
  return found;
}

test('findImages: files as given, directories walked recursively in sorted order, missing paths passed on', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-files-'));
  try {
    const touch = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), '');
    };
    ['d/b.png', 'd/a.PNG', 'd/notes.txt', 'd/sub/z.webp', 'd/sub/deeper/y.Jpeg', 'd/c.png.bak', 'd/e.tif', 'photo.bmp'].forEach(touch);
    fs.mkdirSync(path.join(root, 'd/empty'));
    fs.mkdirSync(path.join(root, 'd/looks-like.png')); // named like a picture: yielded, so the reader says it is a directory
    fs.writeFileSync(path.join(root, 'd/looks-like.png/inside.png'), '');
    fs.symlinkSync(path.join(root, 'd'), path.join(root, 'd/sub/loop')); // a cycle must not be re-entered
    const d = (rel: string) => path.join(root, 'd', rel);
    const found = await collect([path.join(root, 'photo.bmp'), path.join(root, 'd'), path.join(root, 'nope.png')]);
    assert.deepEqual(found, [
      path.join(root, 'photo.bmp'),
      d('a.PNG'),
      d('b.png'),
      d('e.tif'),
      d('looks-like.png'),
      d('sub/deeper/y.Jpeg'),
      d('sub/z.webp'),
      path.join(root, 'nope.png'),
    ]);
    // Streaming: the first file comes out before the rest of the tree is read.
    const iterator = findImages([path.join(root, 'd')]);
    assert.equal((await iterator.next()).value, d('a.PNG'));
    await iterator.return(undefined);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('findImages: an unreadable directory is reported by name', async () => {
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

test('listImages: every picture extension, other files counted, link loops and links named like pictures', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-files-'));
  try {
    const extensions = ['png', 'jpg', 'jpeg', 'jpe', 'jfif', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heif', 'heic'];
    extensions.forEach((ext, i) => fs.writeFileSync(path.join(root, `${String(i).padStart(2, '0')}.${ext.toUpperCase()}`), ''));
    for (const other of ['notes.txt', 'scan.bmp', 'photo.png.bak', 'README', '.DS_Store']) fs.writeFileSync(path.join(root, other), '');
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub', 'deep.webp'), '');
    fs.symlinkSync(root, path.join(root, 'sub', 'up')); // directory cycle: not re-entered, not counted
    fs.symlinkSync(path.join(root, 'self.png'), path.join(root, 'self.png')); // a link loop named like a picture
    const { files, ignored } = await listImages(root);
    const want = [...extensions.map((ext, i) => `${String(i).padStart(2, '0')}.${ext.toUpperCase()}`), 'self.png', 'sub/deep.webp'];
    assert.deepEqual(files, want.map((f) => path.join(root, f)));
    assert.equal(ignored, 5);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
