import * as zlib from 'node:zlib';
import { PNG_SIGNATURE, adam7Passes, buildIhdr, buildPngChunk } from '../../src/data/png-format';

/** Samples per pixel for each PNG colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  interlaced?: boolean;
  /** The pixel's samples at the image's bit depth (palette: one index). */
  pixel: (x: number, y: number) => number[];
  palette?: [number, number, number][];
  /** Raw tRNS chunk data (palette alphas, or a grey/RGB colour key). */
  transparency?: Uint8Array;
}

/** Packs one row of pixels (big-endian, MSB-first for sub-byte depths) behind a filter-type-0 byte. */
function packRow(spec: PngSpec, xs: number[], y: number): Buffer {
  const samples = xs.flatMap((x) => spec.pixel(x, y));
  if (samples.length !== xs.length * CHANNELS[spec.colorType]) throw new Error('wrong sample count');
  const row = Buffer.alloc(1 + Math.ceil((samples.length * spec.bitDepth) / 8));
  samples.forEach((value, s) => {
    if (spec.bitDepth === 16) row.writeUInt16BE(value, 1 + 2 * s);
    else if (spec.bitDepth === 8) row[1 + s] = value;
    else {
      const bit = s * spec.bitDepth;
      row[1 + (bit >> 3)] |= value << (8 - spec.bitDepth - (bit & 7));
    }
  });
  return row;
}

function range(start: number, end: number, step: number): number[] {
  const out: number[] = [];
  for (let v = start; v < end; v += step) out.push(v);
  return out;
}

/** The filtered, uncompressed image data: rows, or Adam7 passes of rows. */
export function rawImageData(spec: PngSpec): Buffer {
  const rows: Buffer[] = [];
  if (!spec.interlaced) {
    const xs = range(0, spec.width, 1);
    for (let y = 0; y < spec.height; y++) rows.push(packRow(spec, xs, y));
  } else {
    for (const pass of adam7Passes(spec.width, spec.height)) {
      const xs = range(pass.x0, spec.width, pass.dx);
      for (const y of range(pass.y0, spec.height, pass.dy)) rows.push(packRow(spec, xs, y));
    }
  }
  return Buffer.concat(rows);
}

/** A complete PNG built by hand, so every colour type, bit depth and interlacing can be tested. */
export function buildPng(spec: PngSpec): Buffer {
  const chunks = [PNG_SIGNATURE, buildIhdr({ ...spec, interlaced: !!spec.interlaced })];
  if (spec.palette) chunks.push(buildPngChunk('PLTE', Buffer.from(spec.palette.flat())));
  if (spec.transparency) chunks.push(buildPngChunk('tRNS', spec.transparency));
  chunks.push(buildPngChunk('IDAT', zlib.deflateSync(rawImageData(spec))), buildPngChunk('IEND'));
  return Buffer.concat(chunks);
}

/** A PNG from any header and a ready zlib stream (for hostile inputs). */
export function pngWithStream(width: number, height: number, zlibStream: Buffer, interlaced = false): Buffer {
  return Buffer.concat([
    PNG_SIGNATURE,
    buildIhdr({ width, height, bitDepth: 8, colorType: 0, interlaced }),
    buildPngChunk('IDAT', zlibStream),
    buildPngChunk('IEND'),
  ]);
}

/**
 * A zlib stream of `total` zero bytes, built in milliseconds without ever holding them: one deflated segment is
 * repeated; it only back-references zeros (compressed against a dictionary of zeros), so it decodes correctly
 * after any run of ≥ 32 KiB of zeros. Compression is ~1000:1, like a real decompression bomb.
 */
export function zerosZlibStream(total: number): Buffer {
  const segment = 1 << 20;
  const repeats = Math.max(0, Math.floor((total - 65536) / segment));
  const head = total - repeats * segment;
  const sync = { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 };
  const first = zlib.deflateRawSync(Buffer.alloc(head), sync);
  const more = zlib.deflateRawSync(Buffer.alloc(segment), { ...sync, dictionary: Buffer.alloc(32768) });
  const last = zlib.deflateRawSync(Buffer.alloc(0));
  const adler32 = Buffer.alloc(4);
  adler32.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0); // Adler-32 of zeros: a = 1, b = n mod 65521
  return Buffer.concat([Buffer.from([0x78, 0xda]), first, ...Array<Buffer>(repeats).fill(more), last, adler32]);
}
