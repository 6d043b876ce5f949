// PNG files built byte by byte, independently of any decoder, so tests can make every colour type, bit depth and
// interlacing, and hostile files (bombs, bad CRCs, lying headers).
import * as zlib from 'node:zlib';

/** Samples per pixel for each PNG colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

let crcTable: Uint32Array | undefined;
/** CRC-32 as PNG uses it (zlib.crc32 only exists from Node 20.15). */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A complete chunk: length, type, data, CRC. */
export function buildPngChunk(type: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  chunk.set(data, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

export function buildIhdr(header: PngHeader): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(header.width, 0);
  data.writeUInt32BE(header.height, 4);
  data[8] = header.bitDepth;
  data[9] = header.colorType;
  data[12] = header.interlaced ? 1 : 0;
  return buildPngChunk('IHDR', data);
}

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Width and height of each non-empty Adam7 pass of a width×height image. */
function adam7Passes(width: number, height: number): { x0: number; y0: number; dx: number; dy: number; w: number; h: number }[] {
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy,
    w: width > x0 ? Math.ceil((width - x0) / dx) : 0,
    h: height > y0 ? Math.ceil((height - y0) / dy) : 0,
  })).filter((pass) => pass.w > 0 && pass.h > 0);
}

/** Bytes the zlib stream must inflate to: filter byte plus packed samples, per row (per pass if interlaced). */
export function inflatedSize(header: PngHeader): number {
  const bitsPerPixel = CHANNELS[header.colorType] * header.bitDepth;
  if (!Number.isFinite(bitsPerPixel)) throw new Error(`colour type ${header.colorType}`);
  const rowBytes = (w: number) => 1 + Math.ceil((w * bitsPerPixel) / 8);
  if (!header.interlaced) return header.height * rowBytes(header.width);
  return adam7Passes(header.width, header.height).reduce((sum, pass) => sum + pass.h * rowBytes(pass.w), 0);
}

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
