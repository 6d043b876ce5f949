/** MNIST as floats, for tests and benchmarks (alocc itself converts only the digit it trains on: loadMnistDigits). */
import { loadMnistRaw, MnistImages, MnistSplit } from '../../src/data/mnist';

const floatCache = new Map<MnistSplit, MnistImages>();

/** One split as floats in [0, 1]; cached per process (train: 188 MB). */
export function loadMnist(split: MnistSplit): MnistImages {
  const cached = floatCache.get(split);
  if (cached) return cached;
  const raw = loadMnistRaw(split);
  const images = new Float32Array(raw.pixels.length);
  for (let i = 0; i < raw.pixels.length; i++) images[i] = raw.pixels[i] / 255;
  const result = { images, labels: raw.labels, count: raw.count };
  floatCache.set(split, result);
  return result;
}
