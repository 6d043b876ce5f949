// Research, not used by alocc: moved out of src/kernels/ (issue 12, one path per kernel: the compiled kernel plus one
// fallback). Kept for the record: the input gradient of tiny outputs as one dense product; its gain on wasm alone was measured only together with single-channel-conv.ts (198d8b8, 06dcdfb).
import * as tf from '@tensorflow/tfjs';
import { phaseGrid } from '../../src/kernels/conv-backprop-input';

/**
 * The input gradient of a convolution with a tiny output (D's last layer: 4×4 → 2×2) as ONE matrix product
 * dy[b, oh·ow·co] × T[oh·ow·co, h·w·ci], T holding the filter tap that links each output to each input pixel (0 where
 * none does). When the input is barely bigger than the kernel most of the sub-pixel conv's taps read padding; this
 * does the useful work only, as a dense product. Used when it needs fewer multiply-adds than the sub-pixel conv.
 */
export function conv2dBackpropInputViaMatMul(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: [number, number],
  padTop: number,
  padLeft: number,
): tf.Tensor4D {
  const [kh, kw, inC, outC] = filter.shape;
  const [b, outH, outW] = dy.shape;
  const [, inH, inW] = inputShape;
  const w = filter.dataSync();
  const cols = inH * inW * inC;
  const t = new Float32Array(outH * outW * outC * cols);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let a = 0; a < kh; a++) {
        const iy = oy * strides[0] + a - padTop;
        if (iy < 0 || iy >= inH) continue;
        for (let c = 0; c < kw; c++) {
          const ix = ox * strides[1] + c - padLeft;
          if (ix < 0 || ix >= inW) continue;
          const src = (a * kw + c) * inC * outC;
          const col = (iy * inW + ix) * inC;
          for (let co = 0; co < outC; co++) {
            const row = ((oy * outW + ox) * outC + co) * cols + col;
            for (let ci = 0; ci < inC; ci++) t[row + ci] = w[src + ci * outC + co];
          }
        }
      }
    }
  }
  return tf.tidy(() => {
    const toeplitz = tf.tensor2d(t, [outH * outW * outC, cols]);
    const dx = tf.matMul(tf.reshape(dy, [b, outH * outW * outC]) as tf.Tensor2D, toeplitz);
    return tf.reshape(dx, inputShape);
  });
}

/**
 * Whether the dense product pays: it runs at about half the multiply-adds per second of the conv, so it must need
 * less than half of the sub-pixel conv's multiply-adds (rows × columns × taps × phases).
 */
export function toeplitzPays(dy: number[], filter: number[], inputShape: number[], strides: [number, number], padTop: number, padLeft: number) {
  const [, outH, outW, outC] = dy;
  const [kh, kw, inC] = filter;
  const [, inH, inW] = inputShape;
  const rows = phaseGrid(kh, strides[0], padTop, inH, outH);
  const cols = phaseGrid(kw, strides[1], padLeft, inW, outW);
  const dense = outH * outW * inH * inW;
  const phases = rows.count * cols.count * rows.taps * cols.taps * strides[0] * strides[1];
  return 2 * dense < phases && outH * outW * outC * inH * inW * inC <= 4 << 20;
}
