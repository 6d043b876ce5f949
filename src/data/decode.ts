/**
 * The one way alocc turns a picture file into network input, for training folders and scoring alike. libvips
 * (through sharp) decodes every format, applies EXIF orientation and resizes; alocc's own rules (pixels.ts) pick
 * the background under transparency, tell colour from grey, convert between them and invert dark-on-light drawings;
 * MNIST digit framing (mnist-fit.ts) is an optional last step.
 */
import { sharp } from './sharp';
import { AloccError, firstLine } from '../errors';
import { ImageFormat, endsEarly, pngDataTooShort, sniffImageFormat, truncatedImage, undecodable, unsupportedImage } from './image-format';
import { readImageFile } from './image-file';
import { fitLikeMnist } from './mnist-fit';
import { decodePlainPng } from './plain-png';
import { RawPixels, borderColour, drawingBackground, flatten, hasColour, rgbToGrey } from './pixels';

/** Images with more pixels than this are refused from their header, before any decoding (decompression bombs). */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** Transparent pixels of photos (invert 'never') become white, as most viewers show them. */
export const PHOTO_BACKGROUND = 255;
/** 'mnist' framing finds the digit at up to this many times the output side; beyond it detail is averaged away. */
const FIT_WORKING_FACTOR = 8;

export interface Preprocessing {
  /** Output is size×size. */
  size: number;
  /** 1: grey, 3: RGB. */
  channels: 1 | 3;
  /** To size×size: 'fill' stretches, 'cover' crops the centre, 'contain' letterboxes with the border colour. */
  resize: 'fill' | 'cover' | 'contain';
  /**
   * 'auto': drawings; invert when the border is bright (dark ink on paper → light on dark, as MNIST is), and put
   * transparent pixels on the grey that contrasts with sparse strokes. 'never': photos, transparency on white.
   */
  invert: 'auto' | 'never';
  /**
   * 'mnist': crop to the digit, scale and centre it by mass as MNIST was made (grey only). 'none': the whole
   * picture. 'auto': 'mnist' for grey images not already size×size, else 'none'.
   */
  fit: 'none' | 'mnist' | 'auto';
}

export interface DecodedImage {
  /** size*size*channels values in [0, 1], row-major, channels interleaved (HWC). */
  pixels: Float32Array;
  /** The picture's own size, after EXIF orientation. */
  width: number;
  height: number;
  /** Whether the picture had colour (some pixel's R, G, B differ by more than COLOUR_TOLERANCE). */
  colour: boolean;
  inverted: boolean;
}

export interface DecodeOverrides {
  /** Forces inversion on or off, whatever pre.invert says (score's --invert true|false). */
  invert?: boolean;
}

/** A picture refused for its size alone (the service answers it with 413 rather than 400). */
export class ImageTooLargeError extends AloccError {}

function tooManyPixels(name: string, width: number, height: number): AloccError {
  const megapixels = +((width * height) / 1e6).toFixed(6);
  return new ImageTooLargeError(
    `${name}: image too large (${width}x${height} = ${megapixels} megapixels; the limit is ${MAX_IMAGE_PIXELS / 1e6}); downscale it first`,
  );
}

/** The whole picture as 8-bit RGB or RGBA, oriented; the pixel limit is checked from the header first. */
async function decodeFull(input: Buffer, name: string, format: ImageFormat): Promise<RawPixels> {
  const early = endsEarly(input, format, 'before decoding');
  if (early) throw truncatedImage(name, format, early);
  const short = format === 'png' ? pngDataTooShort(input, MAX_IMAGE_PIXELS) : undefined;
  if (short) throw new AloccError(`${name}: corrupt PNG (${short}); re-export or re-download the image`);
  const plain = format === 'png' ? decodePlainPng(input) : undefined;
  if (plain) return plain;
  try {
    // sequentialRead is left off: no faster on small files, and a truncated 1,114,142×3 PNG took 1.6 s to refuse
    // with it, 0.4 s without.
    const { data, info } = await sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'warning' })
      .rotate()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 && info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err) {
    if (/exceeds pixel limit/.test(firstLine(err))) {
      // Only now read the header again, without the limit, to say how large it is.
      const meta = await sharp(input, { limitInputPixels: false }).metadata().catch(() => undefined);
      if (meta?.width && meta.height) throw tooManyPixels(name, meta.width, meta.height);
    }
    throw undecodable(name, input, format, err);
  }
}

const SHARP_FIT = { fill: 'fill', cover: 'cover', contain: 'contain' } as const;

/** RGB pixels resized to side×side by libvips (triangle filter: area-like when shrinking, bilinear when enlarging). */
async function resizeRgb(img: RawPixels, side: number, mode: Preprocessing['resize'], pad: number[]): Promise<Uint8Array> {
  if (img.width === side && img.height === side) return img.data;
  const [r, g, b] = pad.map(Math.round);
  const { data } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(side, side, { fit: SHARP_FIT[mode], kernel: 'linear', position: 'centre', background: { r, g, b } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

/** Each byte's value in [0, 1], and inverted. */
const BYTES = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const INVERTED_BYTES = Float32Array.from({ length: 256 }, (_, v) => 1 - v / 255);

/**
 * 8-bit RGB → `channels` values in [0, 1], written into `out` from `at`. Grey output is always rgbToGrey; a picture
 * without colour becomes its grey replicated in a colour run, so a grey picture is exactly grey whatever its file stored.
 */
function toChannels(rgb: Uint8Array, channels: 1 | 3, colour: boolean, invert: boolean, out: Float32Array = new Float32Array((rgb.length / 3) * channels), at = 0): Float32Array {
  const n = rgb.length / 3;
  if (channels === 3 && colour) {
    // One lookup a value instead of a division: the same floats (v / 255 or 1 − v / 255, rounded once), and a tenth
    // of scoring a folder of 64×64 colour pictures was this loop (docs/performance.md).
    const table = invert ? INVERTED_BYTES : BYTES;
    for (let i = 0; i < rgb.length; i++) out[at + i] = table[rgb[i]];
    return out;
  }
  for (let p = 0; p < n; p++) {
    const v = Math.min(1, Math.max(0, rgbToGrey(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) / 255));
    const value = invert ? 1 - v : v;
    for (let c = 0; c < channels; c++) out[at + channels * p + c] = value;
  }
  return out;
}

/**
 * A decoded picture whose floats are made only when read, or written straight into a batch by writePixels: scoring
 * a folder of 64×64 colour pictures spent a tenth of its time in first touches of a fresh 48 KB Float32Array a
 * picture that was copied into the chunk's buffer and dropped (docs/performance.md).
 */
export interface DeferredImage extends DecodedImage {
  /** target[at .. at + size·size·channels) ← the picture's values, the same floats `pixels` holds. */
  writePixels(target: Float32Array, at: number): void;
}

function checkPreprocessing(pre: Preprocessing): void {
  if (!Number.isInteger(pre.size) || pre.size < 1) throw new AloccError(`preprocessing: size ${pre.size} is not a positive whole number`);
  if (pre.fit === 'mnist' && pre.channels !== 1) throw new AloccError("preprocessing: fit 'mnist' frames grey digits; use channels 1");
}

/**
 * Decodes picture bytes (any format sharp reads) into the network input `pre` describes. Every refusal is an
 * AloccError with a one-line message starting with `name`.
 */
export async function decodeImage(input: Buffer, name: string, pre: Preprocessing, overrides: DecodeOverrides = {}): Promise<DecodedImage> {
  const image = await decodeDeferred(input, name, pre, overrides);
  return { pixels: image.pixels, width: image.width, height: image.height, colour: image.colour, inverted: image.inverted };
}

/** decodeImage's picture with its floats deferred (DeferredImage): for callers that batch pictures. */
export async function decodeDeferred(input: Buffer, name: string, pre: Preprocessing, overrides: DecodeOverrides = {}): Promise<DeferredImage> {
  checkPreprocessing(pre);
  if (input.length === 0) throw new AloccError(`${name}: file is empty (0 bytes); not an image`);
  const format = sniffImageFormat(input);
  if (!format) throw unsupportedImage(name, input);
  const raw = await decodeFull(input, name, format);
  const { width, height } = raw;
  const colour = hasColour(raw);
  const drawing = pre.invert === 'auto';
  const flat = flatten(raw, (drawing ? drawingBackground(raw) : undefined) ?? PHOTO_BACKGROUND);
  const border = borderColour(flat);
  const inverted = overrides.invert ?? (drawing && rgbToGrey(border[0], border[1], border[2]) > 127.5);
  const framed = pre.fit === 'mnist' || (pre.fit === 'auto' && pre.channels === 1 && !(width === pre.size && height === pre.size));
  if (!framed) {
    const rgb = await resizeRgb(flat, pre.size, pre.resize, border);
    let pixels: Float32Array | undefined;
    return {
      get pixels() {
        return (pixels ??= toChannels(rgb, pre.channels, colour, inverted));
      },
      writePixels(target, at) {
        if (pixels) target.set(pixels, at);
        else toChannels(rgb, pre.channels, colour, inverted, target, at);
      },
      width, height, colour, inverted,
    };
  }
  const side = Math.min(Math.max(width, height, pre.size), FIT_WORKING_FACTOR * pre.size);
  const grey = toChannels(await resizeRgb(flat, side, 'contain', border), 1, colour, inverted);
  const pixels = fitLikeMnist(grey, side, pre.size);
  return { pixels, writePixels: (target, at) => target.set(pixels, at), width, height, colour, inverted };
}

/**
 * A picture file's own 8-bit pixels (RGB or RGBA, oriented), without alocc's preprocessing: for files whose values
 * are data rather than a photo (defect masks, src/data/masks.ts). Refusals as decodeImage's.
 */
export async function decodeRawPixels(input: Buffer, name: string): Promise<RawPixels> {
  if (input.length === 0) throw new AloccError(`${name}: file is empty (0 bytes); not an image`);
  const format = sniffImageFormat(input);
  if (!format) throw unsupportedImage(name, input);
  return decodeFull(input, name, format);
}

/** Reads and decodes one picture file; see decodeImage. */
export async function readImage(file: string, pre: Preprocessing, overrides: DecodeOverrides = {}): Promise<DecodedImage> {
  return decodeImage(readImageFile(file), file, pre, overrides);
}

export type DecodeOutcome<I extends DecodedImage = DecodedImage> = { file: string; image: I; error?: undefined } | { file: string; image?: undefined; error: AloccError };

/** Pictures decoded at once by default: enough to keep libvips' threads busy on small files. */
export const DEFAULT_DECODE_CONCURRENCY = 16;

/**
 * Decodes `files` with up to `concurrency` decodes in flight, yielding one outcome per file in input order. A file
 * that cannot be read yields its error; the others go on.
 */
export function decodeMany(files: Iterable<string> | AsyncIterable<string>, pre: Preprocessing, opts?: { concurrency?: number; overrides?: DecodeOverrides }): AsyncGenerator<DecodeOutcome>;
/** With `deferred`, pictures as DeferredImages: their floats made where they are written (a chunk's buffer). */
export function decodeMany(files: Iterable<string> | AsyncIterable<string>, pre: Preprocessing, opts: { concurrency?: number; overrides?: DecodeOverrides; deferred: true }): AsyncGenerator<DecodeOutcome<DeferredImage>>;
export async function* decodeMany(
  files: Iterable<string> | AsyncIterable<string>,
  pre: Preprocessing,
  opts: { concurrency?: number; overrides?: DecodeOverrides; deferred?: boolean } = {},
): AsyncGenerator<DecodeOutcome<DeferredImage> | DecodeOutcome> {
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_DECODE_CONCURRENCY);
  const inFlight: Promise<DecodeOutcome<DeferredImage> | DecodeOutcome>[] = [];
  const decode = opts.deferred ? decodeDeferred : decodeImage;
  const start = (file: string): Promise<DecodeOutcome<DeferredImage> | DecodeOutcome> =>
    (async () => decode(readImageFile(file), file, pre, opts.overrides))().then(
      (image) => ({ file, image }),
      (err: unknown) => ({ file, error: err instanceof AloccError ? err : new AloccError(`${file}: ${firstLine(err)}`) }),
    );
  for await (const file of files) {
    inFlight.push(start(file));
    if (inFlight.length >= concurrency) yield await (inFlight.shift() as Promise<DecodeOutcome<DeferredImage> | DecodeOutcome>);
  }
  while (inFlight.length > 0) yield await (inFlight.shift() as Promise<DecodeOutcome<DeferredImage> | DecodeOutcome>);
}
