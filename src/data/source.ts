import { DataConfig, FASHION_CLASSES } from '../config';
import { UsageError } from '../errors';
import { fashionSplit } from './fashion-mnist';
import { loadMnistRaw, MNIST_PIXELS } from './mnist';

/**
 * Images of one shape as bytes (0-255), side × side × channels each (HWC), concatenated: what every data source
 * yields. Bytes rather than floats so that 60,000 64×64 colour pictures take 740 MB, not 2.9 GB.
 */
export interface ImageSet {
  pixels: Uint8Array;
  count: number;
  size: number;
  channels: number;
}

/** Test images with the truth: which are novel, and for built-in sets each image's class. */
export interface LabelledSet extends ImageSet {
  /** 1 for a novel image, 0 for a normal one. */
  isNovel: Uint8Array;
  /** Class of each image (built-in sets), or null. */
  labels: Uint8Array | null;
  /** Names of the classes in `labels`, by number. */
  classNames: readonly string[] | null;
  /** Where each image came from, when it came from a file. */
  files: string[] | null;
}

export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** The normal class's label and what the others are called, for reports ("digit 1", "class 0 (T-shirt/top)"). */
export function describeData(data: DataConfig): string {
  if (data.source === 'mnist') return `MNIST digit ${data.class}`;
  if (data.source === 'fashion-mnist') return `Fashion-MNIST class ${data.class} (${FASHION_CLASSES[data.class!]})`;
  return `the pictures in ${data.folder}`;
}

function checkClass(data: DataConfig): number {
  const c = data.class;
  if (c === null || !Number.isInteger(c) || c < 0 || c > 9) throw new UsageError(`--class must be 0-9 for ${data.source}, not ${c}`);
  return c;
}

function rowsWhere(pixels: Uint8Array, labels: Uint8Array, count: number, keep: (label: number) => boolean): ImageSet {
  let n = 0;
  for (let i = 0; i < count; i++) if (keep(labels[i])) n++;
  const out = new Uint8Array(n * MNIST_PIXELS);
  for (let i = 0, row = 0; i < count; i++) {
    if (keep(labels[i])) out.set(pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), row++ * MNIST_PIXELS);
  }
  return { pixels: out, count: n, size: 28, channels: 1 };
}

/** A built-in set's training images of its normal class, in file order (the run's split is made from these). */
export function builtInTrainingImages(data: DataConfig): ImageSet {
  const cls = checkClass(data);
  if (data.source === 'mnist') {
    const raw = loadMnistRaw('train');
    return rowsWhere(raw.pixels, raw.labels, raw.count, (l) => l === cls);
  }
  if (data.source === 'fashion-mnist') {
    const { pixels, count } = fashionSplit(cls, 'train');
    return { pixels, count, size: 28, channels: 1 };
  }
  throw new Error(`builtInTrainingImages: ${data.source} is not a built-in set`);
}

/** A built-in set's test images, every class, the run's class normal: MNIST's 10,000; Fashion-MNIST's held-out rest. */
export function builtInTestSet(data: DataConfig): LabelledSet {
  const cls = checkClass(data);
  if (data.source === 'mnist') {
    const raw = loadMnistRaw('test');
    const isNovel = Uint8Array.from(raw.labels, (l) => (l === cls ? 0 : 1));
    return { pixels: raw.pixels, count: raw.count, size: 28, channels: 1, isNovel, labels: raw.labels, classNames: MNIST_CLASS_NAMES, files: null };
  }
  if (data.source === 'fashion-mnist') {
    // Interleaved by class (image 0 of each class, then image 1, ...), so that the first N (--limit) hold every class.
    const parts = FASHION_CLASSES.map((_, c) => fashionSplit(c, 'test'));
    const count = parts.reduce((s, p) => s + p.count, 0);
    const pixels = new Uint8Array(count * MNIST_PIXELS);
    const labels = new Uint8Array(count);
    let row = 0;
    for (let k = 0; row < count; k++) {
      parts.forEach((p, c) => {
        if (k >= p.count) return;
        pixels.set(p.pixels.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS), row * MNIST_PIXELS);
        labels[row++] = c;
      });
    }
    const isNovel = Uint8Array.from(labels, (l) => (l === cls ? 0 : 1));
    return { pixels, count, size: 28, channels: 1, isNovel, labels, classNames: FASHION_CLASSES, files: null };
  }
  throw new Error(`builtInTestSet: ${data.source} is not a built-in set`);
}

/** Floats in [0, 1] of images `start`..`start + n` of a set: the networks' input. */
export function floatsOf(set: ImageSet, start = 0, n = set.count - start): Float32Array {
  const per = set.size * set.size * set.channels;
  const src = set.pixels.subarray(start * per, (start + n) * per);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  return out;
}

/** Rows `indices` of a set, in that order, as a new set. */
export function pickRows(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const per = set.size * set.size * set.channels;
  const out = new Uint8Array(indices.length * per);
  for (let k = 0; k < indices.length; k++) {
    const row = indices[k];
    if (!(Number.isInteger(row) && row >= 0 && row < set.count)) throw new Error(`pickRows: row ${row} is outside 0..${set.count - 1}`);
    out.set(set.pixels.subarray(row * per, (row + 1) * per), k * per);
  }
  return { pixels: out, count: indices.length, size: set.size, channels: set.channels };
}
