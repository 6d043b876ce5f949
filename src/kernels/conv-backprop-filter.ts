import * as tf from '@tensorflow/tfjs';

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
    const [kh, kw] = filterShape;
    const [sh, sw] = strides;
    const [, inH, inW] = x.shape;
    const [, outH, outW] = dy.shape;
    // Rows x reaches: padTop before it, and up to (outH − 1)·sh + kh − 1 − padTop; extra rows at the end are unused.
    let padBottom = (outH - 1) * sh + kh - padTop - inH;
    let padRight = (outW - 1) * sw + kw - padLeft - inW;
    let xs: tf.Tensor4D = x;
    if (padBottom < 0 || padRight < 0) {
      xs = tf.slice(x, [0, 0, 0, 0], [-1, inH + Math.min(0, padBottom), inW + Math.min(0, padRight), -1]);
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
