import * as tf from '@tensorflow/tfjs';

/** Keras' epsilon: probabilities are clipped to [EPS, 1 - EPS] before the log. */
const EPS = 1e-7;

/**
 * Probabilities clipped to [EPS, 1 - EPS], NaN kept NaN: the wasm backend's clip turns NaN into EPS, which would hide
 * a diverged network behind finite losses. Forward values and gradients are otherwise those of the plain clip.
 */
function clipProbabilities(p: tf.Tensor): tf.Tensor {
  return tf.where(tf.isNaN(p), p, tf.clipByValue(p, EPS, 1 - EPS));
}

/**
 * −[t·log q + (1 − t)·log(1 − q)] element by element, q = p clipped: the one binary cross-entropy on probabilities,
 * which D's and R's losses average over everything and the reconstruction loss over each image.
 */
function bceElements(p: tf.Tensor, t: tf.Tensor | number): tf.Tensor {
  const q = clipProbabilities(p);
  const target = typeof t === 'number' ? tf.scalar(t) : t;
  // Written so a constant target needs no broadcast tensor.
  return tf.neg(tf.add(tf.mul(target, tf.log(q)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, q)))));
}

/** Binary cross-entropy between probabilities `p` and targets `t`, averaged over every element. */
export function bce(p: tf.Tensor, t: tf.Tensor | number): tf.Scalar {
  return tf.tidy(() => tf.mean(bceElements(p, t)) as tf.Scalar);
}

/**
 * Binary cross-entropy of sigmoid(z) against targets `t`, from the logits z, averaged over every element:
 * max(z, 0) − z·t + log(1 + e^−|z|), exact for any z and with gradient sigmoid(z) − t (see models/logits.ts).
 */
export function bceFromLogits(z: tf.Tensor, t: tf.Tensor | number): tf.Scalar {
  return tf.tidy(() => {
    const target = typeof t === 'number' ? tf.scalar(t) : t;
    const loss = tf.add(tf.sub(tf.relu(z), tf.mul(z, target)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    return tf.mean(loss) as tf.Scalar;
  });
}

/**
 * Per-image reconstruction loss: BCE between R(x) and x averaged over the image's pixels. The quantity R is trained
 * on, and the 'bce' novelty score (the seed presets'; larger: more novel).
 */
export function reconstructionLossPerImage(reconstruction: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.mean(bceElements(reconstruction, x), [1, 2, 3]) as tf.Tensor1D);
}
