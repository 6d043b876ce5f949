/**
 * An 8-bit RGB PNG from raw pixels, for the anomaly-map overlays: one per scored picture, so the encoder sets the
 * pace of `alocc score --maps` (Skia's toBuffer took 5.5 ms for a 252×280 overlay, eleven times the rest of its map;
 * docs/performance.md). An overlay is the picture zoomed by whole pixels: most rows repeat the one above (filter Up
 * makes them zeros) and the others run in blocks of equal pixels (filter Sub makes those zeros): runs of zeros,
 * which zlib's run-length strategy codes 2-3 times faster than its fastest level, for files about a tenth larger
 * (an overlay of 252×280: 0.23 → 0.11 ms; docs/performance.md).
 */
import * as zlib from 'zlib';
import { crc32 } from '../data/image-format';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

/** rgb: width·height·3 bytes, row-major. Each row filtered Up where it equals the row above, else Sub. */
export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Buffer {
  const stride = width * 3;
  if (rgb.length !== stride * height) throw new RangeError(`encodeRgbPng: ${rgb.length} bytes for ${width}x${height} RGB`);
  const filtered = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const at = y * (stride + 1);
    const same = y > 0 && Buffer.compare(rgb.subarray(row - stride, row), rgb.subarray(row, row + stride)) === 0;
    if (same) {
      filtered[at] = 2; // Up: all zeros, as the buffer already is
      continue;
    }
    filtered[at] = 1; // Sub
    for (let i = 0; i < 3 && i < stride; i++) filtered[at + 1 + i] = rgb[row + i];
    for (let i = 3; i < stride; i++) filtered[at + 1 + i] = (rgb[row + i] - rgb[row + i - 3]) & 0xff;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(filtered, { strategy: zlib.constants.Z_RLE })), chunk('IEND', Buffer.alloc(0))]);
}
