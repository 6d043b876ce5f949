/**
 * What the library accepts as a picture, turned into the one decoding path the CLI uses (src/data/decode.ts), so a
 * file, its bytes and its pixels give the same network input.
 */
import { sharp } from '../data/sharp';
import { DecodedImage, DecodeOverrides, decodeImage, Preprocessing } from '../data/decode';
import { readImageFile } from '../data/image-file';
import { AloccError } from '../errors';

/** Decoded 8-bit pixels, row-major with channels interleaved: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (canvas ImageData is 4). */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** A picture file's path, its bytes in any format alocc reads, or its decoded pixels. */
export type ImageInput = string | Uint8Array | RawImage;

export function isRawImage(input: unknown): input is RawImage {
  return typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && 'data' in input && 'width' in input;
}

/** The name results carry for an input: the path, or what the caller called it. */
export function inputName(input: ImageInput, given: string | undefined, index: number | undefined): string {
  if (given !== undefined) return given;
  if (typeof input === 'string') return input;
  const what = isRawImage(input) ? 'pixels' : 'bytes';
  return index === undefined ? `<${what}>` : `<${what} ${index}>`;
}

/** Raw pixels as a lossless PNG, so they pass through the same decoder (orientation, alpha, colour rules) as files. */
async function rawToPng(img: RawImage, name: string): Promise<Buffer> {
  const { width, height, channels, data } = img;
  const whole = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!whole(width) || !whole(height) || ![1, 2, 3, 4].includes(channels)) {
    throw new AloccError(`${name}: raw pixels need whole positive width and height and channels 1-4 (got ${width}×${height}×${channels})`);
  }
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) {
    throw new AloccError(`${name}: raw pixels must be 8-bit (a Uint8Array or Uint8ClampedArray of values 0-255)`);
  }
  if (data.length !== width * height * channels) {
    throw new AloccError(`${name}: raw pixels hold ${data.length} bytes, not ${width}×${height}×${channels} = ${width * height * channels}`);
  }
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.length), { raw: { width, height, channels }, limitInputPixels: false })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

/** Decodes any ImageInput into the network input `pre` describes; refusals are one-line AloccErrors starting with `name`. */
export async function decodeInput(input: ImageInput, name: string, pre: Preprocessing, overrides: DecodeOverrides): Promise<DecodedImage> {
  if (typeof input === 'string') return decodeImage(readImageFile(input), name, pre, overrides);
  if (input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
    return decodeImage(bytes, name, pre, overrides);
  }
  if (isRawImage(input)) return decodeImage(await rawToPng(input, name), name, pre, overrides);
  throw new AloccError(`${name}: not a picture input; give a file path, a Buffer or Uint8Array of image bytes, or { data, width, height, channels }`);
}
