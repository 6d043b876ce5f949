import * as tf from '@tensorflow/tfjs';

/** Keras' epsilon: probabilities are clipped to [EPS, 1 - EPS] before the log. */
const EPS = 1e-7;

/** Binary cross-entropy between probabilities `p` and targets `t`, averaged over every element. */
export function bce(p: tf.Tensor, t: tf.Tensor | number): tf.Scalar {
  return tf.tidy(() => {
    const q = tf.clipByValue(p, EPS, 1 - EPS);
    const target = typeof t === 'number' ? tf.scalar(t) : t;
    // t·log q + (1 - t)·log(1 - q), written so a constant target needs no broadcast tensor.
    const ll = tf.add(tf.mul(target, tf.log(q)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, q))));
    return tf.neg(tf.mean(ll)) as tf.Scalar;
  });
}

/**
 * Per-image reconstruction loss: BCE between R(x) and x averaged over the image's pixels. The quantity R is trained
 * on, and the default novelty score (larger: more novel).
 */
export function reconstructionLossPerImage(reconstruction: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = tf.clipByValue(reconstruction, EPS, 1 - EPS);
    const ll = tf.add(tf.mul(x, tf.log(q)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, q))));
    return tf.neg(tf.mean(ll, [1, 2, 3])) as tf.Tensor1D;
  });
}
