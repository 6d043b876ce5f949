/**
 * The rotation net's BatchNorms trained on the compiled kernels' fused BatchNorm (src/kernels/batchnorm-training.ts)
 * instead of tfjs-layers' tf.moments + batchNorm chain: the same function and moving averages, six passes over the
 * activation instead of about twelve and a dozen fewer tfjs dispatches a layer (the chain and its gradient were over a
 * quarter of a rotation step at 28×28). The layers stay tfjs-layers' BatchNormalization (saved, loaded and run for
 * scoring as before); only their training-mode call is routed, and only where the fused kernel serves the backend and
 * shape, else the stock call.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormTrain } from '../kernels';

/** What the routed call reads of a BatchNormalization layer (tfjs-layers keeps these protected). */
interface BatchNormParts {
  momentum: number;
  epsilon: number;
  axis: number;
  gamma?: { read(): tf.Tensor };
  beta?: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}
type Call = (inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict) => tf.Tensor | tf.Tensor[];

const routed = new WeakSet<tf.layers.Layer>();

/** Routes the training calls of `net`'s BatchNormalization layers through the fused kernel; idempotent. */
export function fuseBatchNormTraining(net: tf.LayersModel): void {
  for (const layer of net.layers) {
    if (layer.getClassName() !== 'BatchNormalization' || routed.has(layer)) continue;
    routed.add(layer);
    const stock = (layer.call as Call).bind(layer);
    const parts = layer as unknown as BatchNormParts;
    (layer as unknown as { call: Call }).call = (inputs, kwargs) => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const lastAxis = parts.axis === -1 || parts.axis === x.rank - 1;
      if (!kwargs?.training || !lastAxis || !parts.gamma || !parts.beta) return stock(inputs, kwargs);
      return tf.tidy(() => {
        const out = fusedBatchNormTrain(x, parts.gamma!.read() as tf.Tensor1D, parts.beta!.read() as tf.Tensor1D, parts.epsilon);
        if (!out) return stock(inputs, kwargs) as tf.Tensor;
        const [y, mean, variance] = out;
        // The moving averages as tfjs-layers updates them: v − (v − batch)·(1 − momentum).
        const decay = 1 - parts.momentum;
        for (const [moving, batch] of [[parts.movingMean, mean], [parts.movingVariance, variance]] as const) {
          const old = moving.read();
          moving.write(tf.sub(old, tf.mul(tf.sub(old, batch), decay)));
        }
        return y;
      });
    };
  }
}
