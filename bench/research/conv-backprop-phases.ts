// Research, not used by alocc: moved out of src/kernels/ (issue 12, one path per kernel: the compiled kernel plus one
// fallback). Kept for the record: one conv per phase for strided input gradients with inC ≥ 32: 1988 → 1964 ms a step on wasm alone (a111e27), within the noise.
import * as tf from '@tensorflow/tfjs';
import { cropSpatial } from '../../src/kernels/conv-backprop-input';

/** Along one axis, output phase q (rows i = s·n + q): which filter taps it uses and which dy rows it reads. */
function phase(q: number, k: number, s: number, p: number, size: number, outSize: number) {
  const r = (q + p) % s; // filter taps r, r + s, r + 2s, …
  const c = Math.floor((q + p) / s); // row n reads dy rows n + c − taps + 1 … n + c
  const taps = Math.max(0, Math.ceil((k - r) / s));
  const count = Math.ceil((size - q) / s);
  return { r, taps, count, before: taps - 1 - c, after: count + c - outSize };
}

/**
 * The input gradient of a stride-s convolution as s·s stride-1 forward convolutions, one per output phase
 * (dx rows i ≡ q mod s), each with exactly the filter taps that reach it: for K = 5, s = 2 the sub-kernels are 3×3,
 * 3×2, 2×3 and 2×2, 25 taps in all, so no multiply-add is wasted (the one-conv version pads them all to 3×3 and
 * covers rows outside the input: 1.4-1.9×). Worth it when each phase still has enough output channels for XNNPACK.
 */
export function conv2dBackpropInputByPhases(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: [number, number],
  padTop: number,
  padLeft: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, inC, outC] = filter.shape;
    const [sh, sw] = strides;
    const [b, outH, outW] = dy.shape;
    const [, inH, inW] = inputShape;
    const w = filter.dataSync();
    const rowsMax = Math.ceil(inH / sh);
    const colsMax = Math.ceil(inW / sw);
    const outputs: tf.Tensor4D[] = [];
    for (let qh = 0; qh < sh; qh++) {
      for (let qw = 0; qw < sw; qw++) {
        const rows = phase(qh, kh, sh, padTop, inH, outH);
        const cols = phase(qw, kw, sw, padLeft, inW, outW);
        let out: tf.Tensor4D;
        if (rows.taps === 0 || cols.taps === 0) {
          out = tf.zeros([b, rows.count, cols.count, inC]);
        } else {
          // v[u, v', co, ci] = W[r + s·(taps − 1 − u), …]: the taps of this phase, flipped, in and out swapped.
          const f = new Float32Array(rows.taps * cols.taps * outC * inC);
          for (let u = 0; u < rows.taps; u++) {
            const a = rows.r + sh * (rows.taps - 1 - u);
            for (let v = 0; v < cols.taps; v++) {
              const c = cols.r + sw * (cols.taps - 1 - v);
              const src = (a * kw + c) * inC * outC;
              const dst = (u * cols.taps + v) * outC * inC;
              for (let ci = 0; ci < inC; ci++) {
                for (let co = 0; co < outC; co++) f[dst + co * inC + ci] = w[src + ci * outC + co];
              }
            }
          }
          const top = Math.max(0, -rows.before);
          const left = Math.max(0, -cols.before);
          const bottom = Math.max(0, -rows.after);
          const right = Math.max(0, -cols.after);
          const input = top || left || bottom || right ? cropSpatial(dy, top, left, outH - top - bottom, outW - left - right) : dy;
          out = tf.conv2d(input, tf.tensor4d(f, [rows.taps, cols.taps, outC, inC]), 1, [
            [0, 0],
            [Math.max(0, rows.before), Math.max(0, rows.after)],
            [Math.max(0, cols.before), Math.max(0, cols.after)],
            [0, 0],
          ]);
        }
        if (rows.count < rowsMax || cols.count < colsMax) {
          out = tf.pad(out, [
            [0, 0],
            [0, rowsMax - rows.count],
            [0, colsMax - cols.count],
            [0, 0],
          ]);
        }
        outputs.push(out);
      }
    }
    // [b, rowsMax, colsMax, (qh, qw), inC] → rows n·sh + qh, columns m·sw + qw.
    const stacked = tf.reshape(tf.stack(outputs, 3), [b, rowsMax, colsMax, sh, sw, inC]);
    const full = tf.reshape(tf.transpose(stacked, [0, 1, 3, 2, 4, 5]), [b, rowsMax * sh, colsMax * sw, inC]) as tf.Tensor4D;
    return full.shape[1] === inH && full.shape[2] === inW ? full : cropSpatial(full, 0, 0, inH, inW);
  });
}
