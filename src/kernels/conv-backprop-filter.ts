import * as tf from '@tensorflow/tfjs';
import { cropSpatial } from './conv-backprop-input';

/**
 * The gradient of a convolution with respect to its filter, written as ONE forward convolution so it runs on the
 * backend's fast forward conv (XNNPACK on wasm): dW[a, c, ci, co] = Σ_{b,o,q} x[b, o·sh + a − pt, q·sw + c − pl, ci]
 * · dy[b, o, q, co] is a stride-1 convolution of x with the batch as channels ([ci, H, W, B]) by dy used as a
 * filter ([outH, outW, B, co]) dilated by the stride.
 */
export function conv2dBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  padTop: number,
  padLeft: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, inC, outC] = filterShape;
    const [sh, sw] = strides;
    const [, inH, inW] = x.shape;
    const [, outH, outW] = dy.shape;
    // XNNPACK runs a conv with few output channels far below peak (co = 1: ~8× slower per multiply-add), so with
    // stride 1 and fewer output than input channels the roles of x and dy are swapped.
    if (sh === 1 && sw === 1 && outC < inC) {
      const swapped = filterGradByDyConv(x, dy, kh, kw, padTop, padLeft);
      if (swapped) return swapped;
    }
    // Rows x reaches: padTop before it, and up to (outH − 1)·sh + kh − 1 − padTop; extra rows at the end are unused.
    let padBottom = (outH - 1) * sh + kh - padTop - inH;
    let padRight = (outW - 1) * sw + kw - padLeft - inW;
    let xs: tf.Tensor4D = x;
    if (padBottom < 0 || padRight < 0) {
      xs = cropSpatial(x, 0, 0, inH + Math.min(0, padBottom), inW + Math.min(0, padRight));
      padBottom = Math.max(0, padBottom);
      padRight = Math.max(0, padRight);
    }
    const channelsAsBatch = tf.transpose(xs, [3, 1, 2, 0]); // [ci, H, W, B]
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]); // [outH, outW, B, co]
    const grad = tf.conv2d(
      channelsAsBatch,
      dyAsFilter,
      1,
      [
        [0, 0],
        [padTop, padBottom],
        [padLeft, padRight],
        [0, 0],
      ],
      'NHWC',
      [sh, sw],
    ); // [ci, kh, kw, co]
    return tf.transpose(grad, [1, 2, 0, 3]);
  });
}

/**
 * Stride 1 only: dW[a, c, ci, co] = Σ x[b, h, w, ci]·dy[b, h − a + pt, w − c + pl, co], a correlation of dy
 * (batch as channels, [co, outH, outW, B]) with x as the filter ([H, W, B, ci]); output tap v is a = kh − 1 − v.
 * Returns null for paddings this cannot express.
 */
function filterGradByDyConv(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, padTop: number, padLeft: number) {
  const [, inH, inW] = x.shape;
  const [, outH, outW] = dy.shape;
  const before = [kh - 1 - padTop, kw - 1 - padLeft];
  const after = [inH - outH + padTop, inW - outW + padLeft];
  if (Math.min(...before, ...after) < 0) return null;
  const dyAsInput = tf.transpose(dy, [3, 1, 2, 0]); // [co, outH, outW, B]
  const xAsFilter = tf.transpose(x, [1, 2, 0, 3]); // [H, W, B, ci]
  const grad = tf.conv2d(dyAsInput, xAsFilter, 1, [
    [0, 0],
    [before[0], after[0]],
    [before[1], after[1]],
    [0, 0],
  ]); // [co, kh, kw, ci], taps reversed
  return tf.transpose(tf.reverse(grad, [1, 2]), [1, 2, 3, 0]) as tf.Tensor4D;
}
