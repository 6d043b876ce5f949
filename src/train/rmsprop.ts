import * as tf from '@tensorflow/tfjs';
import { fusedRmsprop } from '../kernels';

/** One slot of RMSPropOptimizer's per-variable state: what its getWeights saves under `originalName`. */
interface OptimizerVariable {
  originalName: string;
  variable: tf.Variable;
}

/** RMSPropOptimizer's state (private in tfjs-core's types; these are the fields its getWeights and setWeights use). */
interface RmspropState {
  accumulatedMeanSquares: OptimizerVariable[];
  accumulatedMoments: OptimizerVariable[];
}

/**
 * The reference's optimiser: RMSprop (rho 0.9, no momentum, epsilon 1e-7) on gradients clipped element-wise to
 * ±clipValue. Where the compiled kernels serve the backend, each variable's clip and update are one pass
 * (kernels/native.ts) instead of tfjs's 16 ops, with the same float32 roundings in the same order, so the weights are
 * bit for bit those of clipByValue and RMSPropOptimizer; elsewhere it is exactly those ops. The state is
 * RMSPropOptimizer's own, so checkpoints save and restore it as before.
 */
export class ClippedRmsprop extends tf.RMSPropOptimizer {
  constructor(learningRate: number, readonly clipValue: number) {
    super(learningRate, 0.9, 0, 1e-7);
  }

  override applyGradients(gradients: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>): void {
    const named: tf.NamedTensorMap = Array.isArray(gradients) ? Object.fromEntries(gradients.map((g) => [g.name, g.tensor])) : gradients;
    const names = Object.keys(named);
    const state = this as unknown as RmspropState;
    const variables = names.map((name) => tf.engine().registeredVariables[name]);
    const attrs = { learningRate: this.learningRate, decay: this.decay, momentum: this.momentum, epsilon: this.epsilon, clipValue: this.clipValue };
    const slot = (name: string, suffix: string, value: tf.Variable) => ({ originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) });
    names.forEach((name, i) => {
      state.accumulatedMeanSquares[i] ??= slot(name, 'rms', variables[i]);
      state.accumulatedMoments[i] ??= slot(name, 'momentum', variables[i]);
    });
    const fused = names.map((name, i) => fusedRmsprop(variables[i], state.accumulatedMeanSquares[i].variable, state.accumulatedMoments[i].variable, named[name], attrs));
    if (fused.some((outputs) => outputs == null)) {
      fused.forEach((outputs) => outputs && tf.dispose(outputs));
      const clipped = tf.tidy(() => names.map((name) => ({ name, tensor: tf.clipByValue(named[name], -this.clipValue, this.clipValue) })));
      try {
        super.applyGradients(clipped);
      } finally {
        tf.dispose(clipped.map((c) => c.tensor));
      }
      return;
    }
    fused.forEach((outputs, i) => {
      const [value, meanSquare, moment] = outputs!;
      variables[i].assign(value);
      state.accumulatedMeanSquares[i].variable.assign(meanSquare);
      state.accumulatedMoments[i].variable.assign(moment);
      tf.dispose(outputs!);
    });
    this.incrementIterations();
  }
}
