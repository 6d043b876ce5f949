import * as tf from '@tensorflow/tfjs';

/**
 * The gradient of a stride-s convolution with respect to its input, written as ONE stride-1 forward convolution
 * followed by a depth-to-space interleave (sub-pixel decomposition), so it runs on the backend's fast forward conv
 * (XNNPACK on wasm).
 *
 * Along one axis, forward: y[o] = Σ_k x[o·s + k − p]·w[k]. Backward, for t = i + p = s·m + r (phase r):
 * dx[i] = Σ_j dy[m − j]·w[r + s·j]. Every phase r is a correlation of dy with a flipped sub-kernel of
 * J = ceil(K / s) taps (shorter ones zero-padded in front), so all s·s phases become output channels of one conv
 * whose output at m holds dx for t = s·m + r; depth-to-space lays the phases back out and a slice drops the
 * padding. Cost: (s·ceil(K/s) / K)² times the direct gradient's multiply-adds (1.44× for K = 5, s = 2), against
 * s² for zero insertion.
 */
export function conv2dBackpropInputViaConv(
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
    const [, outH, outW] = dy.shape;
    const [, inH, inW] = inputShape;
    const jh = Math.ceil(kh / sh);
    const jw = Math.ceil(kw / sw);

    const subKernels = phaseFilter(filter, sh, sw, jh, jw); // [jh, jw, outC, sh·sw·inC]
    // Output row m needs dy rows m − jh + 1 … m; rows m cover t = s·m + r up to padTop + inH − 1.
    const mh = Math.ceil((padTop + inH) / sh);
    const mw = Math.ceil((padLeft + inW) / sw);
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [jh - 1, Math.max(0, mh - outH)],
      [jw - 1, Math.max(0, mw - outW)],
      [0, 0],
    ];
    const phases = tf.conv2d(dy, subKernels, 1, padding); // [b, max(mh, outH), max(mw, outW), sh·sw·inC]
    const full = interleavePhases(phases, sh, sw, inC);
    void outC;
    return tf.slice(full, [0, padTop, padLeft, 0], [-1, inH, inW, -1]);
  });
}

/** F[u, v, co, (rh·sw + rw)·inC + c] = W[rh + sh·(jh − 1 − u), rw + sw·(jw − 1 − v), c, co], zero past the kernel. */
function phaseFilter(filter: tf.Tensor4D, sh: number, sw: number, jh: number, jw: number): tf.Tensor4D {
  const [kh, kw, inC, outC] = filter.shape;
  let w: tf.Tensor = filter;
  if (jh * sh !== kh || jw * sw !== kw) {
    w = tf.pad(w, [
      [0, jh * sh - kh],
      [0, jw * sw - kw],
      [0, 0],
      [0, 0],
    ]);
  }
  if (sh === 1 && sw === 1) {
    // Stride 1: the classic flipped, in/out-swapped kernel.
    return tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  }
  const split = tf.reshape(w, [jh, sh, jw, sw, inC, outC]);
  const flipped = tf.reverse(split, [0, 2]);
  const ordered = tf.transpose(flipped, [0, 2, 5, 1, 3, 4]); // [jh, jw, outC, sh, sw, inC]
  return tf.reshape(ordered, [jh, jw, outC, sh * sw * inC]);
}

/** [b, m, n, sh·sw·c] phases → [b, m·sh, n·sw, c] with phase (rh, rw) at rows m·sh + rh, columns n·sw + rw. */
function interleavePhases(phases: tf.Tensor4D, sh: number, sw: number, c: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return phases;
  if (sh === sw) return tf.depthToSpace(phases, sh, 'NHWC');
  const [b, m, n] = phases.shape;
  const split = tf.reshape(phases, [b, m, n, sh, sw, c]);
  return tf.reshape(tf.transpose(split, [0, 1, 3, 2, 4, 5]), [b, m * sh, n * sw, c]);
}
