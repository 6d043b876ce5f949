import * as zlib from 'node:zlib';
import { AloccError } from '../errors';

/** Images declaring more pixels than this are refused before any decompression (decompression bombs). */
export const MAX_PNG_PIXELS = 50_000_000;
/** Files larger than this are refused before being read. */
export const MAX_PNG_FILE_BYTES = 256 * 1024 * 1024;
/** The PNG spec's largest width or height. */
const MAX_PNG_SIDE = 2 ** 31 - 1;

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IHDR_END = 8 + 8 + 13 + 4;

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

export interface PngStructure {
  header: PngHeader;
  /** Offset just past IEND; anything after it is ignored. */
  end: number;
  /** The IDAT chunks' data, concatenated: the zlib stream. */
  idatParts: Buffer[];
}

/** Bit depths the spec allows for each colour type. */
const ALLOWED_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const KNOWN_CRITICAL = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);

let crcTable: Uint32Array | undefined;
function crc32Js(data: Uint8Array): number {
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

/** CRC-32 as PNG uses it; zlib.crc32 is native but only exists from Node 20.15/22.2. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  return native ? native(data) >>> 0 : crc32Js(data);
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

/** Names the format of a file that is not a PNG, from its first bytes, so the user knows what they gave us. */
export function sniffFormat(buf: Uint8Array): string | undefined {
  const ascii = Buffer.from(buf.subarray(0, 16)).toString('latin1');
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'a JPEG';
  if (ascii.startsWith('GIF87a') || ascii.startsWith('GIF89a')) return 'a GIF';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'a WebP';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'a TIFF';
  if (ascii.slice(4, 8) === 'ftyp') return 'an HEIC/AVIF (ISO media) file';
  if (ascii.startsWith('BM')) return 'a BMP';
  if (ascii.startsWith('%PDF')) return 'a PDF';
  if (/^\s*</.test(ascii)) return 'an SVG/XML/HTML text file';
  if (ascii.startsWith('\x89PNG')) return 'a PNG damaged by a text-mode transfer';
  return undefined;
}

function corrupt(name: string, why: string): AloccError {
  return new AloccError(`${name}: corrupt PNG (${why}); re-export or re-download the image`);
}

function truncated(name: string, where: string): AloccError {
  return new AloccError(`${name}: truncated PNG (${where}); the file is incomplete, re-export or re-download it`);
}

function readHeader(buf: Buffer, name: string): PngHeader {
  if (buf.length < IHDR_END) throw truncated(name, `only ${buf.length} bytes, ends inside the header`);
  if (buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw corrupt(name, 'the first chunk is not a 13-byte IHDR');
  }
  if (crc32(buf.subarray(12, 29)) !== buf.readUInt32BE(29)) throw corrupt(name, 'bad CRC in the IHDR chunk');
  const header: PngHeader = {
    width: buf.readUInt32BE(16),
    height: buf.readUInt32BE(20),
    bitDepth: buf[24],
    colorType: buf[25],
    interlaced: buf[28] === 1,
  };
  const { width, height, bitDepth, colorType } = header;
  if (width === 0 || height === 0 || width > MAX_PNG_SIDE || height > MAX_PNG_SIDE) {
    throw corrupt(name, `invalid size ${width}x${height}`);
  }
  if (!ALLOWED_DEPTHS[colorType]) throw corrupt(name, `invalid colour type ${colorType}`);
  if (!ALLOWED_DEPTHS[colorType].includes(bitDepth)) throw corrupt(name, `bit depth ${bitDepth} is invalid for colour type ${colorType}`);
  if (buf[26] !== 0 || buf[27] !== 0 || buf[28] > 1) throw corrupt(name, 'unknown compression, filter or interlace method');
  if (width * height > MAX_PNG_PIXELS) {
    const megapixels = ((width * height) / 1e6).toPrecision(3);
    throw new AloccError(
      `${name}: image too large (${width}x${height} = ${megapixels} megapixels; the limit is ${MAX_PNG_PIXELS / 1e6}); downscale it first`,
    );
  }
  return header;
}

/**
 * Validates everything that can be checked without decompressing: signature, IHDR (size limit included), every
 * chunk's bounds and CRC, chunk types, and that IDAT and IEND exist. Runs in time linear in the file size.
 */
export function checkPngStructure(buf: Buffer, name: string): PngStructure {
  if (buf.length === 0) throw new AloccError(`${name}: file is empty (0 bytes); not an image`);
  const signatureBytes = Math.min(buf.length, 8);
  if (!buf.subarray(0, signatureBytes).equals(PNG_SIGNATURE.subarray(0, signatureBytes))) {
    const format = sniffFormat(buf);
    throw new AloccError(`${name}: not a PNG (${format ? `looks like ${format}` : 'wrong signature'}); convert it to PNG first`);
  }
  const header = readHeader(buf, name);
  const idatParts: Buffer[] = [];
  let sawPalette = false;
  let offset = IHDR_END;
  for (;;) {
    if (offset + 8 > buf.length) throw truncated(name, `ends at byte ${buf.length} before the IEND chunk`);
    const length = buf.readUInt32BE(offset);
    const typeBytes = buf.subarray(offset + 4, offset + 8);
    const type = typeBytes.toString('latin1');
    if (!typeBytes.every((c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) {
      throw corrupt(name, `invalid chunk type at byte ${offset}`);
    }
    if (length > MAX_PNG_SIDE) throw corrupt(name, `chunk ${type} claims ${length} bytes`);
    const dataEnd = offset + 8 + length;
    if (dataEnd + 4 > buf.length) throw truncated(name, `file ends inside the ${type} chunk at byte ${buf.length}`);
    if (crc32(buf.subarray(offset + 4, dataEnd)) !== buf.readUInt32BE(dataEnd)) throw corrupt(name, `bad CRC in the ${type} chunk`);
    if (type === 'IHDR') throw corrupt(name, 'a second IHDR chunk');
    if (type === 'IEND') return finish(header, idatParts, sawPalette, dataEnd + 4, name);
    if (type === 'IDAT') idatParts.push(buf.subarray(offset + 8, dataEnd));
    if (type === 'PLTE') sawPalette = true;
    const critical = typeBytes[0] <= 90;
    if (critical && !KNOWN_CRITICAL.has(type)) throw corrupt(name, `unknown critical chunk ${type}`);
    offset = dataEnd + 4;
  }
}

function finish(header: PngHeader, idatParts: Buffer[], sawPalette: boolean, end: number, name: string): PngStructure {
  if (idatParts.length === 0) throw corrupt(name, 'no image data (IDAT chunk)');
  if (header.colorType === 3 && !sawPalette) throw corrupt(name, 'palette image without a PLTE chunk');
  return { header, end, idatParts };
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
export function adam7Passes(width: number, height: number): { x0: number; y0: number; dx: number; dy: number; w: number; h: number }[] {
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy,
    w: width > x0 ? Math.ceil((width - x0) / dx) : 0,
    h: height > y0 ? Math.ceil((height - y0) / dy) : 0,
  })).filter((pass) => pass.w > 0 && pass.h > 0);
}

/** Bytes the zlib stream must inflate to: filter byte plus packed samples, per row (per pass if interlaced). */
export function inflatedSize(header: PngHeader): number {
  const bitsPerPixel = SAMPLES_PER_PIXEL[header.colorType] * header.bitDepth;
  const rowBytes = (w: number) => 1 + Math.ceil((w * bitsPerPixel) / 8);
  if (!header.interlaced) return header.height * rowBytes(header.width);
  return adam7Passes(header.width, header.height).reduce((sum, pass) => sum + pass.h * rowBytes(pass.w), 0);
}

/** An 8-bit grey PNG; float pixels are taken as [0, 1], bytes as 0-255. */
export function encodeGreyPng(pixels: Float32Array | Uint8Array, width: number, height: number): Buffer {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || pixels.length !== width * height) {
    throw new AloccError(`encodeGreyPng: ${pixels.length} pixels do not make a ${width}x${height} image`);
  }
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x];
      raw[y * (width + 1) + 1 + x] = pixels instanceof Uint8Array ? v : Math.round(Math.min(1, Math.max(0, v || 0)) * 255);
    }
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    buildIhdr({ width, height, bitDepth: 8, colorType: 0, interlaced: false }),
    buildPngChunk('IDAT', zlib.deflateSync(raw)),
    buildPngChunk('IEND'),
  ]);
}
