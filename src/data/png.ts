import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { AloccError, firstLine } from '../errors';
import { DIGIT_SIDE, DigitResult, FitMode, InvertMode, rgbaToDigit } from './digitize';
import { MAX_PNG_FILE_BYTES, PngStructure, checkPngStructure, inflatedSize } from './png-format';

export { DIGIT_SIDE } from './digitize';
export type { FitMode, InvertMode } from './digitize';
export { MAX_PNG_FILE_BYTES, MAX_PNG_PIXELS, encodeGreyPng } from './png-format';

export interface PngDigitOptions {
  /** 'auto' (default): invert when the image's border is bright, i.e. a dark digit on light paper. */
  invert?: InvertMode;
  /**
   * 'none' (default): the whole image, scaled. 'mnist': crop to the digit and frame it as MNIST digits are framed.
   * 'auto': 'none' for 28×28 images (taken to be framed like MNIST already), 'mnist' for any other size.
   */
  fit?: FitMode | 'auto';
}

export interface PngDigit extends DigitResult {
  /** The PNG's own size, before resizing. */
  width: number;
  height: number;
}

/**
 * Inflates the image data once, capped at the size the header allows, before pngjs does: pngjs inflates an
 * interlaced image without any limit (a small image with a huge zlib stream would exhaust memory), and its
 * messages for short or overlong data are cryptic. Costs one extra inflate, small next to decoding.
 */
function checkImageData(structure: PngStructure, name: string): void {
  const expected = inflatedSize(structure.header);
  let actual: number;
  try {
    actual = zlib.inflateSync(Buffer.concat(structure.idatParts), { maxOutputLength: expected + 1 }).length;
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new AloccError(`${name}: corrupt PNG (image data inflates past the ${expected} bytes its size allows); re-export the image`);
    }
    throw new AloccError(`${name}: corrupt PNG (bad compressed image data: ${firstLine(err)}); re-export the image`);
  }
  if (actual !== expected) {
    throw new AloccError(`${name}: corrupt PNG (image data holds ${actual} of the ${expected} bytes its size needs); re-export the image`);
  }
}

/**
 * Decodes PNG bytes into a 28×28 MNIST-style digit. Everything checkable without decompressing (signature, CRCs,
 * size limit) is checked first; every failure is an AloccError whose one-line message starts with `name`.
 */
export function decodePngBufferAsDigit(buf: Buffer, name: string, opts: PngDigitOptions = {}): PngDigit {
  const structure = checkPngStructure(buf, name);
  checkImageData(structure, name);
  let decoded: { width: number; height: number; data: Buffer };
  try {
    // pngjs rejects bytes after IEND, which many real files carry; they mean nothing, so cut them off.
    decoded = PNG.sync.read(buf.subarray(0, structure.end));
  } catch (err) {
    throw new AloccError(`${name}: corrupt PNG (${firstLine(err)}); re-export or re-download the image`);
  }
  const { width, height, data } = decoded;
  if (width !== structure.header.width || height !== structure.header.height || data.length !== width * height * 4) {
    throw new AloccError(`${name}: corrupt PNG (decoded size does not match its header); re-export the image`);
  }
  const fit = opts.fit === 'auto' ? (width === DIGIT_SIDE && height === DIGIT_SIDE ? 'none' : 'mnist') : (opts.fit ?? 'none');
  const digit = rgbaToDigit(data, width, height, opts.invert ?? 'auto', fit);
  return { ...digit, width, height };
}

/**
 * Synchronous on purpose: for small local files each asynchronous stat and read is a thread-pool round trip that
 * costs more than the read (10,000 MNIST PNGs: 4.6 s read and decoded asynchronously, 0.06 s read synchronously).
 */
function readPngFile(file: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new AloccError(`${file}: no such file`);
    throw new AloccError(`${file}: cannot read (${code ?? firstLine(err)})`);
  }
  if (stat.isDirectory()) throw new AloccError(`${file}: is a directory, not a PNG file`);
  if (!stat.isFile()) throw new AloccError(`${file}: not a regular file`);
  if (stat.size === 0) throw new AloccError(`${file}: file is empty (0 bytes); not an image`);
  if (stat.size > MAX_PNG_FILE_BYTES) {
    throw new AloccError(`${file}: file too large (${stat.size} bytes; the limit is ${MAX_PNG_FILE_BYTES}); downscale it first`);
  }
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new AloccError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? firstLine(err)})`);
  }
}

/** Reads any PNG (any colour type, bit depth, size, interlacing) as a 28×28 light-on-dark digit in [0, 1]. */
export async function readPngAsDigit(file: string, opts: PngDigitOptions = {}): Promise<PngDigit> {
  return decodePngBufferAsDigit(readPngFile(file), file, opts);
}
