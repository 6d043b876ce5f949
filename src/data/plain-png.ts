/**
 * Small, plain PNGs decoded in JavaScript (node's zlib and a row unfilter) instead of libvips. For a 28×28 digit,
 * sharp spent ~0.5 ms of the main thread per picture setting up its pipeline before libvips' threads started
 * (bench/NOTES.md, issue 12), more than the decode itself; this takes a few tens of microseconds.
 *
 * Only PNGs whose pixels libvips would hand over unchanged take this path: 8-bit, not interlaced, grey, RGB, palette,
 * grey + alpha or RGBA (a palette may carry alpha in tRNS), without a grey or RGB transparency key, colour-management chunks (ICC profile, gamma, chromaticities,
 * sRGB intent), EXIF (orientation) or anything unknown, every chunk's CRC valid, nothing after IEND, and image data
 * that inflates to exactly the rows declared (pngjs accepts a stream one byte short). Every other PNG goes to sharp,
 * so refusals keep their wording. test/plain-png.test.ts checks both
 * paths give the same bytes.
 */
import * as zlib from 'zlib';
import { crc32 } from './image-format';
import { RawPixels } from './pixels';

/** Larger pictures go to libvips, whose threads decode them in parallel. */
export const PLAIN_PNG_MAX_PIXELS = 256 * 256;

/** Chunks that do not change the pixels libvips returns. */
const HARMLESS_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND', 'tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA) → bytes per pixel as stored. */
const STORED_BYTES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface Layout {
  width: number;
  height: number;
  colourType: number;
  palette?: Buffer;
  /** A palette's alpha per entry (tRNS; entries past its end are opaque). */
  paletteAlpha?: Buffer;
  data: Buffer[];
}

/** The PNG's header, palette and data chunks if this module decodes it exactly as libvips would. */
function plainLayout(buf: Buffer): Layout | undefined {
  if (buf.length < 8 + 25 + 12 || SIGNATURE.some((b, i) => buf[i] !== b)) return undefined;
  let at = 8;
  let layout: Layout | undefined;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const end = at + 8 + length;
    if (end + 4 > buf.length || !HARMLESS_CHUNKS.has(type)) return undefined;
    if (crc32(buf.subarray(at + 4, end)) !== buf.readUInt32BE(end)) return undefined;
    const body = buf.subarray(at + 8, end);
    if (type === 'IHDR') {
      if (at !== 8 || length !== 13) return undefined;
      const [width, height] = [body.readUInt32BE(0), body.readUInt32BE(4)];
      const [depth, colourType, compression, filter, interlace] = body.subarray(8);
      if (width < 1 || height < 1 || width * height > PLAIN_PNG_MAX_PIXELS) return undefined;
      if (depth !== 8 || !(colourType in STORED_BYTES) || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
      layout = { width, height, colourType, data: [] };
    } else if (!layout) {
      return undefined; // IHDR must come first
    } else if (type === 'PLTE') {
      if (length % 3 !== 0 || layout.palette) return undefined;
      layout.palette = body;
    } else if (type === 'tRNS') {
      // Palette alpha only (libvips then returns RGBA; emoji sets ship such files); a grey or RGB key colour stays with libvips.
      if (layout.colourType !== 3 || !layout.palette || layout.paletteAlpha || layout.data.length > 0 || length > layout.palette.length / 3) return undefined;
      layout.paletteAlpha = body;
    } else if (type === 'IDAT') {
      layout.data.push(body);
    }
    at = end + 4;
    if (type === 'IEND') return at === buf.length && layout.data.length > 0 ? layout : undefined;
  }
  return undefined;
}

/** The filtered rows inflated, or undefined unless the stream ends exactly where the data does and holds exactly them. */
function inflateRows(layout: Layout, stride: number): Buffer | undefined {
  const compressed = layout.data.length === 1 ? layout.data[0] : Buffer.concat(layout.data);
  const size = layout.height * (stride + 1);
  try {
    // One output chunk a byte larger than the rows (a longer stream still shows): zlib's default 16 KB chunks took
    // two buffers and a concatenation for a 64×64 RGBA picture.
    const { buffer, engine } = zlib.inflateSync(compressed, { info: true, chunkSize: Math.max(64, size + 1) }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return buffer.length === size && engine.bytesWritten === compressed.length ? buffer : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth) in place; false on an unknown filter type. One loop per
 * filter: deciding the filter per byte made this a tenth of decoding a folder of emoji.
 */
function unfilter(rows: Buffer, height: number, stride: number, bpp: number): boolean {
  for (let y = 0; y < height; y++) {
    const filter = rows[y * (stride + 1)];
    const row = y * (stride + 1) + 1;
    const up = row - (stride + 1);
    const end = row + stride;
    if (filter === 0) continue;
    if (filter > 4) return false;
    if (y === 0 && filter !== 1) {
      // No row above: Up adds 0, Average adds half the left byte, Paeth predicts the left byte.
      if (filter === 2) continue;
      for (let i = row + bpp; i < end; i++) rows[i] = (rows[i] + (filter === 3 ? rows[i - bpp] >> 1 : rows[i - bpp])) & 0xff;
      continue;
    }
    if (filter === 1) {
      for (let i = row + bpp; i < end; i++) rows[i] = (rows[i] + rows[i - bpp]) & 0xff;
    } else if (filter === 2) {
      for (let i = row, j = up; i < end; i++, j++) rows[i] = (rows[i] + rows[j]) & 0xff;
    } else if (filter === 3) {
      for (let i = row, j = up; i < row + bpp; i++, j++) rows[i] = (rows[i] + (rows[j] >> 1)) & 0xff;
      for (let i = row + bpp, j = up + bpp; i < end; i++, j++) rows[i] = (rows[i] + ((rows[i - bpp] + rows[j]) >> 1)) & 0xff;
    } else {
      // Paeth: with no left byte, a = c = 0 and the predictor is the byte above.
      for (let i = row, j = up; i < row + bpp; i++, j++) rows[i] = (rows[i] + rows[j]) & 0xff;
      for (let i = row + bpp, j = up + bpp; i < end; i++, j++) {
        const a = rows[i - bpp];
        const b = rows[j];
        const c = rows[j - bpp];
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        rows[i] = (rows[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
    }
  }
  return true;
}

/** The picture as 8-bit RGB (or RGBA if its colour type has alpha), or undefined: decode it with libvips instead. */
export function decodePlainPng(buf: Buffer): RawPixels | undefined {
  const layout = plainLayout(buf);
  if (!layout) return undefined;
  const { width, height, colourType, palette, paletteAlpha } = layout;
  if ((colourType === 3) !== (palette !== undefined)) return undefined;
  const bpp = STORED_BYTES[colourType];
  const stride = width * bpp;
  const rows = inflateRows(layout, stride);
  if (!rows || !unfilter(rows, height, stride, bpp)) return undefined;
  const channels = colourType === 4 || colourType === 6 || paletteAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  if (colourType === 2 || colourType === 6) {
    // Stored as returned: a row at a time.
    for (let y = 0; y < height; y++) out.set(rows.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
    return { data: out, width, height, channels };
  }
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    for (let x = 0; x < width; x++, o += channels) {
      const p = row + x * bpp;
      if (colourType === 0 || colourType === 4) {
        out[o] = out[o + 1] = out[o + 2] = rows[p];
        if (colourType === 4) out[o + 3] = rows[p + 1];
      } else if (colourType === 3) {
        const entry = rows[p] * 3;
        if (entry + 3 > palette!.length) return undefined; // an index past the palette: libvips says why
        out[o] = palette![entry];
        out[o + 1] = palette![entry + 1];
        out[o + 2] = palette![entry + 2];
        if (paletteAlpha) out[o + 3] = rows[p] < paletteAlpha.length ? paletteAlpha[rows[p]] : 255;
      } else {
        for (let c = 0; c < bpp; c++) out[o + c] = rows[p + c];
      }
    }
  }
  return { data: out, width, height, channels };
}
