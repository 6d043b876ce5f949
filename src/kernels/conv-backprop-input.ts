import * as tf from '@tensorflow/tfjs';

/**
 * The gradient of a stride-s convolution with respect to its input, written as ONE stride-1 forward convolution
 * plus an interleave of its output channels (sub-pixel decomposition), so it runs on the backend's fast forward
 * conv (XNNPACK on wasm).
 *
 * Along one axis, forward: y[o] = Σ_k x[o·s + k − p]·w[k]. Backward, for t = i + p = s·m + r (phase r):
 * dx[i] = Σ_j dy[m − j]·w[r + s·j]. Every phase r is a correlation of dy with a flipped sub-kernel of
 * J = ceil(K / s) taps (shorter ones zero-padded in front), so all s·s phases become output channels of one conv
 * whose output at m holds dx for t = s·m + r; the interleave lays the phases back out and a slice drops what lies
 * outside the input. Cost: (s·ceil(K / s) / K)² times the direct gradient's multiply-adds (1.44× for K = 5, s = 2),
 * against s² for zero insertion.
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
    const [kh, kw, inC] = filter.shape;
    const [sh, sw] = strides;
    const [, outH, outW] = dy.shape;
    const [, inH, inW] = inputShape;
    const rows = phaseGrid(kh, sh, padTop, inH, outH);
    const cols = phaseGrid(kw, sw, padLeft, inW, outW);

    const subKernels = phaseFilter(filter, sh, sw, rows.taps, cols.taps); // [jh, jw, outC, sh·sw·inC]
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [rows.padBefore, rows.padAfter],
      [cols.padBefore, cols.padAfter],
      [0, 0],
    ];
    let input = dy;
    if (rows.cropAfter > 0 || cols.cropAfter > 0) {
      input = cropSpatial(dy, 0, 0, outH - rows.cropAfter, outW - cols.cropAfter);
    }
    const phases = tf.conv2d(input, subKernels, 1, padding); // [b, rows.count, cols.count, sh·sw·inC]
    const full = interleavePhases(phases, sh, sw, inC); // rows t = s·(m0 + m) + r
    if (full.shape[1] === inH && full.shape[2] === inW) return full;
    return cropSpatial(full, rows.offset, cols.offset, inH, inW);
  });
}

/**
 * Along one axis: the phase conv computes m = m0 … m0 + count − 1, the fewest that cover t = p … p + size − 1, from
 * dy padded by padBefore/padAfter (or cropped by cropAfter rows that no output reaches).
 */
export function phaseGrid(k: number, s: number, p: number, size: number, outSize: number) {
  const taps = Math.ceil(k / s);
  const m0 = Math.min(Math.floor(p / s), taps - 1);
  const count = Math.ceil((p + size) / s) - m0;
  // Output m reads dy rows m0 + m − taps + 1 … m0 + m.
  const padBefore = taps - 1 - m0;
  const lastRow = m0 + count - 1;
  return {
    taps,
    count,
    offset: p - s * m0,
    padBefore,
    padAfter: Math.max(0, lastRow - (outSize - 1)),
    cropAfter: Math.max(0, outSize - 1 - lastRow),
  };
}

/**
 * F[u, v, co, (rh·sw + rw)·inC + c] = W[rh + sh·(jh − 1 − u), rw + sw·(jw − 1 − v), c, co], zero past the kernel.
 * The filter is small, so this is rearranged in a plain loop: as tensor ops (pad, 6-D reverse and transpose) it
 * cost more than the convolution on wasm.
 */
function phaseFilter(filter: tf.Tensor4D, sh: number, sw: number, jh: number, jw: number): tf.Tensor4D {
  const [kh, kw, inC, outC] = filter.shape;
  const w = filter.dataSync();
  const phaseC = sh * sw * inC;
  const f = new Float32Array(jh * jw * outC * phaseC);
  for (let u = 0; u < jh; u++) {
    for (let v = 0; v < jw; v++) {
      for (let rh = 0; rh < sh; rh++) {
        const a = rh + sh * (jh - 1 - u);
        if (a >= kh) continue;
        for (let rw = 0; rw < sw; rw++) {
          const b = rw + sw * (jw - 1 - v);
          if (b >= kw) continue;
          const src = (a * kw + b) * inC * outC;
          const dstBase = (u * jw + v) * outC * phaseC + (rh * sw + rw) * inC;
          for (let c = 0; c < inC; c++) {
            for (let co = 0; co < outC; co++) f[dstBase + co * phaseC + c] = w[src + c * outC + co];
          }
        }
      }
    }
  }
  return tf.tensor4d(f, [jh, jw, outC, phaseC]);
}

/** [b, m, n, sh·sw·c] phases → [b, m·sh, n·sw, c] with phase (rh, rw) at rows m·sh + rh, columns n·sw + rw. */
function interleavePhases(phases: tf.Tensor4D, sh: number, sw: number, c: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return phases;
  const [b, m, n] = phases.shape;
  // A 6-D transpose, not depthToSpace: wasm's DepthToSpace is a scalar loop, 50× slower here.
  const split = tf.reshape(phases, [b, m, n, sh, sw, c]);
  return tf.reshape(tf.transpose(split, [0, 1, 3, 2, 4, 5]), [b, m * sh, n * sw, c]);
}

/**
 * x[:, top : top + h, left : left + w, :] as a 3-D slice of [b, H, W·c]: wasm's 4-D Slice copies one channel vector
 * at a time (one copy per pixel when c = 1, 10× slower), the 3-D one whole rows.
 */
export function cropSpatial(x: tf.Tensor4D, top: number, left: number, h: number, w: number): tf.Tensor4D {
  const [b, inH, inW, c] = x.shape;
  const rows = tf.reshape(x, [b, inH, inW * c]);
  return tf.reshape(tf.slice(rows, [0, top, left * c], [b, h, w * c]), [b, h, w, c]);
}
