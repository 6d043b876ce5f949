/**
 * Which picture formats alocc reads, recognised from their first bytes before any decoder sees them (so nothing
 * outside the list, SVG or PDF say, ever reaches libvips), and the one-line messages for files that fail.
 */
import * as zlib from 'zlib';
import { AloccError } from '../errors';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'heif';

const LABELS: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP', gif: 'GIF', tiff: 'TIFF', heif: 'HEIF/AVIF' };

export const SUPPORTED_FORMATS = 'PNG, JPEG, WebP, GIF, TIFF, AVIF and HEIF';

/** File extensions that name a picture alocc reads (lower case, no dot). */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'jpe', 'jfif', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heif', 'heic'];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The format of `buf` by its magic bytes, or undefined when it is none alocc reads. */
export function sniffImageFormat(buf: Uint8Array): ImageFormat | undefined {
  const ascii = Buffer.from(buf.subarray(0, 16)).toString('latin1');
  if (buf.length >= 8 && PNG_SIGNATURE.equals(buf.subarray(0, 8))) return 'png';
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'webp';
  if (ascii.startsWith('GIF87a') || ascii.startsWith('GIF89a')) return 'gif';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'tiff';
  if (ascii.slice(4, 8) === 'ftyp') return 'heif'; // ISO media: AVIF, HEIC; libheif refuses what is not a picture
  return undefined;
}

/** What a file alocc cannot read looks like, so the user knows what they gave it. */
function lookalike(buf: Uint8Array): string {
  const ascii = Buffer.from(buf.subarray(0, 16)).toString('latin1');
  if (ascii.startsWith('\x89PNG')) return buf.length < 8 ? 'a truncated PNG signature' : 'a PNG damaged by a text-mode transfer';
  if (ascii.startsWith('BM')) return 'a BMP';
  if (ascii.startsWith('%PDF')) return 'a PDF';
  if (/^\s*</.test(ascii)) return 'an SVG/XML/HTML text file';
  return 'an unknown format';
}

export function unsupportedImage(name: string, buf: Uint8Array): AloccError {
  return new AloccError(`${name}: not a supported image (looks like ${lookalike(buf)}); alocc reads ${SUPPORTED_FORMATS}`);
}

/**
 * Whether the bytes stop before the format's end marker: the usual fate of an interrupted download or copy.
 * 'before decoding' checks only PNG, whose IEND marker is certain and whose truncated files libvips can take
 * seconds to refuse; the other checks only word a failure libvips already reported.
 */
export function endsEarly(buf: Buffer, format: ImageFormat, when: 'before decoding' | 'after failing' = 'after failing'): string | undefined {
  if (when === 'before decoding' && format !== 'png') return undefined;
  switch (format) {
    case 'png':
      return buf.includes('IEND', 8, 'latin1') ? undefined : 'the file ends before its IEND chunk';
    case 'jpeg':
      return buf.subarray(-1024).includes(Buffer.from([0xff, 0xd9])) ? undefined : 'no end-of-image marker';
    case 'gif':
      return buf.subarray(-16).includes(0x3b) ? undefined : 'no GIF trailer';
    case 'webp':
      return buf.length >= 12 && buf.readUInt32LE(4) + 8 > buf.length ? `${buf.length} of the ${buf.readUInt32LE(4) + 8} bytes its header declares` : undefined;
    default:
      return undefined;
  }
}

/** Deflate's largest compression ratio (258 bytes from a 1-bit length code and a 1-bit distance code), with margin. */
const MAX_DEFLATE_RATIO = 1040;
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

let crcTable: Uint32Array | undefined;
/** zlib.crc32 where this Node has it (20.15 on): C, several times the table's speed over a folder's chunks. */
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
/** PNG's CRC-32 (ISO 3309), for the header check below and plain-png's chunks: zlib's (Node 20.15 on), else a table. */
export function crc32(bytes: Uint8Array): number {
  if (zlibCrc32) return zlibCrc32(bytes);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A PNG whose image data cannot hold the picture its header declares, whatever it inflates to: a 100-byte file can
 * declare 38 megapixels (under the pixel limit) and libvips then spends seconds before it finds the data short.
 * Returns why, or undefined when the data may be long enough (or the file is not a PNG this can read, or is over
 * `maxPixels`).
 */
export function pngDataTooShort(buf: Buffer, maxPixels: number): string | undefined {
  if (buf.length < 33 || buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const width = buf.readUInt32BE(16), height = buf.readUInt32BE(20), depth = buf[24], channels = PNG_CHANNELS[buf[25]];
  // A damaged header, or a picture over the pixel limit, gets the decoder's own refusal instead.
  if (!channels || !depth || width * height > maxPixels || crc32(buf.subarray(12, 29)) !== buf.readUInt32BE(29)) return undefined;
  let compressed = 0;
  for (let offset = 8; offset + 8 <= buf.length; ) {
    const length = buf.readUInt32BE(offset);
    if (buf.toString('latin1', offset + 4, offset + 8) === 'IDAT') compressed += Math.min(length, buf.length - offset - 8);
    offset += 12 + length;
  }
  // Each row is a filter byte and its packed samples; interlacing only adds rows.
  const raw = height * (1 + Math.ceil((width * channels * depth) / 8));
  if (raw <= MAX_DEFLATE_RATIO * compressed + 1024) return undefined;
  return `its ${compressed} bytes of image data cannot hold a ${width}×${height} picture`;
}

/** libvips' explanation, reduced to its first informative line. */
function decoderReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text
    .split('\n')
    .map((l) => l.replace(/^Input (buffer|file) has corrupt header:\s*/, '').trim())
    .find((l) => l && !l.startsWith('Warning treated as error'));
  if (line === undefined) return /corrupt header/.test(text) ? 'unreadable header' : 'unreadable data';
  return (/libpng read error/.test(line) ? 'unreadable image data' : line).slice(0, 160);
}

export function truncatedImage(name: string, format: ImageFormat, why: string): AloccError {
  return new AloccError(`${name}: truncated ${LABELS[format]} (${why}); the file is incomplete, re-export or re-download it`);
}

/** The message for bytes of a recognised format that libvips could not decode. */
export function undecodable(name: string, buf: Buffer, format: ImageFormat, err: unknown): AloccError {
  const label = LABELS[format];
  const reason = decoderReason(err);
  if (/unsupported image format/i.test(reason)) {
    return new AloccError(`${name}: not a supported image (a ${label} container the decoder cannot read); alocc reads ${SUPPORTED_FORMATS}`);
  }
  const early = endsEarly(buf, format);
  if (early) return truncatedImage(name, format, early);
  return new AloccError(`${name}: corrupt ${label} (${reason}); re-export or re-download the image`);
}
