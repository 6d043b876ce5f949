/** Grey PNGs for tests and benchmarks: pngjs encodes (alocc itself only reads pictures: src/data/decode.ts). */
import { PNG } from 'pngjs';
import { AloccError } from '../../src/errors';

/** An 8-bit grey PNG; float pixels are taken as [0, 1], bytes as 0-255. */
export function encodeGreyPng(pixels: Float32Array | Uint8Array, width: number, height: number): Buffer {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || pixels.length !== width * height) {
    throw new AloccError(`encodeGreyPng: ${pixels.length} pixels do not make a ${width}x${height} image`);
  }
  const grey = Buffer.alloc(width * height);
  for (let i = 0; i < grey.length; i++) {
    const v = pixels[i];
    grey[i] = pixels instanceof Uint8Array ? v : Math.round(Math.min(1, Math.max(0, v || 0)) * 255);
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = grey;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}
