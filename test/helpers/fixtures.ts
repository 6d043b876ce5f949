import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { selectBackend } from '../../src/backend';

/** The backend tests train on: wasm with alocc's convolution-gradient kernels, as users without native TF get. */
export async function useTestBackend(): Promise<void> {
  await selectBackend('wasm');
}

/** TensorFlow.js's plain cpu backend without its first-use warning: for tests that score tiny nets many times. */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
}

export function tempDir(prefix = 'alocc-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Deterministic pseudo-images: a bright vertical stroke of varying position and width, like a "1". */
export function strokeImages(count: number, seed = 1): Float32Array {
  const out = new Float32Array(count * 784);
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let n = 0; n < count; n++) {
    const cx = 11 + rnd() * 6;
    const w = 1 + rnd() * 2;
    for (let y = 4; y < 24; y++) {
      for (let x = 0; x < 28; x++) {
        const d = Math.abs(x - cx - (y - 14) * 0.1);
        out[n * 784 + y * 28 + x] = Math.max(0, Math.min(1, w - d + 0.5));
      }
    }
  }
  return out;
}
