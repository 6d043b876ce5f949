/** The labelled test images eval scores: a built-in set's (all or the first N) or the user's normal and novel folders. */
import { DataConfig } from '../config';
import { Preprocessing } from './decode';
import { loadImageFolder } from './folder';
import { builtInTestSet, LabelledSet } from './source';

/** The first `limit` images of a labelled set (all when limit is 0 or undefined). */
export function firstImages(set: LabelledSet, limit: number | undefined): LabelledSet {
  if (!limit || limit >= set.count) return set;
  const per = set.size * set.size * set.channels;
  return {
    ...set,
    pixels: set.pixels.subarray(0, limit * per),
    count: limit,
    isNovel: set.isNovel.subarray(0, limit),
    labels: set.labels?.subarray(0, limit) ?? null,
    files: set.files?.slice(0, limit) ?? null,
  };
}

/** A built-in set's test images with the run's class normal, the first `limit` of them, and how a report names them. */
export function builtInTestImages(data: DataConfig, limit: number | undefined): { test: LabelledSet; source: string } {
  return {
    test: firstImages(builtInTestSet(data), limit),
    source: data.source === 'mnist' ? 'the MNIST test set' : "Fashion-MNIST's held-out images (each class's images after its first 6,000)",
  };
}

/** Every picture below `normalDir` (normal) and `novelDir` (novel), prepared as the run prepares pictures. */
export async function labelledFolders(normalDir: string, novelDir: string, prep: Preprocessing): Promise<{ test: LabelledSet; source: string }> {
  const { size, channels, resize } = prep;
  const load = (dir: string) => loadImageFolder(dir, { size, channels: channels as 1 | 3, resize, skipBad: false });
  const [normal, novel] = [await load(normalDir), await load(novelDir)];
  const pixels = new Uint8Array(normal.pixels.length + novel.pixels.length);
  pixels.set(normal.pixels, 0);
  pixels.set(novel.pixels, normal.pixels.length);
  const isNovel = new Uint8Array(normal.count + novel.count).fill(1, normal.count);
  return {
    test: { pixels, count: normal.count + novel.count, size, channels, isNovel, labels: null, classNames: null, files: [...normal.files, ...novel.files] },
    source: `the pictures below ${normalDir} (normal) and ${novelDir} (novel)`,
  };
}
