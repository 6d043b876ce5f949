import * as tf from '@tensorflow/tfjs';

/**
 * R and D end in a sigmoid (a Conv2D and a Dense layer with activation 'sigmoid'). The training losses are better
 * computed from the logits before it: BCE on clipped probabilities (what Keras does) has zero gradient once an
 * output saturates past 1e-7 of 0 or 1, and measured here a network whose outputs saturate in the first epoch never
 * recovers (digits 2 and 6 with the seed recipe: R's validation loss frozen for four epochs). From logits the gradient
 * is sigmoid(z) − t, never zero while the output is wrong.
 *
 * This applies everything but the last layer as a model sharing the same layers, then the last layer's own weights
 * with no activation, so the saved networks stay exactly as they are.
 */
const bodies = new WeakMap<tf.LayersModel, tf.LayersModel>();

function body(model: tf.LayersModel): tf.LayersModel {
  let b = bodies.get(model);
  if (!b) {
    const last = model.layers[model.layers.length - 1];
    b = tf.model({ inputs: model.inputs, outputs: last.input as tf.SymbolicTensor, name: `${model.name}_body` });
    bodies.set(model, b);
  }
  return b;
}

/** The pre-sigmoid output of R (a 'same' conv, [b, 28, 28, 1]) or D (a dense layer, [b, 1]) for `x`. */
export function logitsOf(model: tf.LayersModel, x: tf.Tensor, training: boolean): tf.Tensor {
  const last = model.layers[model.layers.length - 1];
  const className = last.getClassName();
  const [kernel, bias] = last.trainableWeights.map((w) => w.read());
  const h = body(model).apply(x, { training }) as tf.Tensor;
  if (className === 'Conv2D') {
    const cfg = last.getConfig() as { strides?: number | [number, number]; padding?: 'same' | 'valid' };
    return tf.fused.conv2d({ x: h as tf.Tensor4D, filter: kernel as tf.Tensor4D, bias, strides: cfg.strides ?? 1, pad: cfg.padding ?? 'valid' });
  }
  if (className === 'Dense') return tf.add(tf.matMul(h as tf.Tensor2D, kernel as tf.Tensor2D), bias);
  throw new Error(`logitsOf: ${model.name} ends in a ${className}, not a Conv2D or Dense layer`);
}
