/*
 * The knn score's pure parts, without TensorFlow.js: which of R's layers make its features, how they are pooled, and
 * the k-nearest pick. feature-memory.ts runs them on tfjs; knn-verdict.ts on the compiled kernels alone.
 */

/**
 * The 'knn' novelty score: how far an image is, in R's own features, from the run's training images. Measured on all
 * ten digits (docs/research.md, "Nearest neighbours in R's features"): reconstruction errors stall at a mean AUROC of
 * about 0.87 because R reconstructs other digits nearly as well as its own, while the mean cosine distance to the
 * nearest training images in the output of R's first encoder block reaches about 0.98.
 *
 * R's layers whose weights make the feature space: the first encoder block (Conv 5×5 → BatchNorm → LeakyReLU).
 */
export const MEMORY_CONV = 'g_encoder_h0_conv';
export const MEMORY_BN = `${MEMORY_CONV}_bn`;
export const MEMORY_LRELU = `${MEMORY_CONV}_lrelu`;

/**
 * Queries are searched in groups padded to a multiple of this many: the compiled conv kernels take their fast path
 * only when the output channels are a multiple of the SIMD width (16 floats with AVX-512).
 */
export const QUERY_MULTIPLE = 64;

/**
 * Side of the average-pooling cells over the first block's stride-2 output (side h = ⌈s/2⌉): 2 at 28×28 (14×14×32 →
 * 7×7×32, 1,568 numbers an image, twice that with the cells' maxima), and at larger sizes as many as keep about 8×8 cells (64×64: 4, giving 8×8×32).
 * Why pooled: the full 6,272 at 28 made a digit's memory 150 MB and scoring 4× slower for no better ranking.
 */
export function poolSide(firstBlockSide: number): number {
  return Math.max(2, Math.ceil(firstBlockSide / 8));
}

/**
 * The knn features' normalisation, for both engines: each of the `n` rows of `values` (f features in `parts` equal
 * parts, the cells' means then their maxima) scaled in place so that each part has length 1/√parts, the whole row
 * length 1. Each part on its own scale, so that the maxima (larger than the means) do not drown them out.
 */
export function unitFeatureRows(values: Float32Array, n: number, f: number, parts: number): void {
  const len = f / parts;
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < parts; h++) {
      const row = i * f + h * len;
      let sum = 0;
      for (let j = 0; j < len; j++) sum += values[row + j] * values[row + j];
      const norm = Math.fround(Math.fround(Math.sqrt(sum)) * Math.sqrt(parts)) + 1e-12;
      for (let j = 0; j < len; j++) values[row + j] /= norm;
    }
  }
}

/** For each of the first `n` columns of a [rows, stride] matrix, the mean of its k largest values. */
export function meanOfLargest(m: Float32Array, rows: number, stride: number, n: number, k: number): Float32Array {
  // best[j·k .. j·k + k) holds column j's k largest so far, ascending: best[j·k] is the one to beat.
  const best = new Float64Array(n * k).fill(-Infinity);
  for (let i = 0; i < rows; i++) {
    const row = i * stride;
    for (let j = 0; j < n; j++) {
      const v = m[row + j];
      const at = j * k;
      if (!(v > best[at])) continue;
      let p = at;
      while (p + 1 < at + k && best[p + 1] < v) {
        best[p] = best[p + 1];
        p++;
      }
      best[p] = v;
    }
  }
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let p = 0; p < k; p++) sum += best[j * k + p];
    out[j] = sum / k;
  }
  return out;
}

