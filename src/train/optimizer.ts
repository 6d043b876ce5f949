import * as tf from '@tensorflow/tfjs';
import { nativeRmsprop } from '../kernels/native';

/** What tfjs's RMSPropOptimizer keeps per variable (private in its typings; the fields of tfjs 4.22, pinned). */
interface Accumulator {
  originalName: string;
  variable: tf.Variable;
}
interface RmspropState {
  accumulatedMeanSquares: Accumulator[];
  accumulatedMoments: Accumulator[];
}

/**
 * The reference's optimiser: each gradient element clipped to ±clipValue (Keras' clipvalue), then RMSprop. On the
 * compiled kernels one call updates every variable in place; elsewhere tfjs's clipByValue and RMSPropOptimizer run,
 * with the same arithmetic. Its state (getWeights/setWeights, what checkpoints store) is tfjs's RMSprop's either way.
 */
export class ClippedRmsprop extends tf.RMSPropOptimizer {
  /** Updates that ran on the compiled kernel (the rest ran tfjs's ops): benchmarks and tests read it. */
  compiledUpdates = 0;

  constructor(
    learningRate: number,
    readonly clipValue: number,
    decay = 0.9,
    momentum = 0,
    epsilon = 1e-7,
  ) {
    super(learningRate, decay, momentum, epsilon);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const grads = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    if (this.applyFused(grads)) return;
    const clipped = tf.tidy(() => grads.map(({ name, tensor }) => ({ name, tensor: tf.clipByValue(tensor, -this.clipValue, this.clipValue) })));
    try {
      super.applyGradients(clipped);
    } finally {
      tf.dispose(clipped.map((g) => g.tensor));
    }
  }

  /** The compiled path; false (nothing changed) where it does not apply. */
  private applyFused(grads: { name: string; tensor: tf.Tensor }[]): boolean {
    const state = this as unknown as RmspropState;
    const registered = tf.engine().registeredVariables;
    // Accumulators are made as tfjs makes them (same names, same order), so checkpoints are the same either way.
    grads.forEach(({ name }, i) => {
      const value = registered[name];
      state.accumulatedMeanSquares[i] ??= { originalName: `${name}/rms`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      state.accumulatedMoments[i] ??= { originalName: `${name}/momentum`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
    });
    const operands = grads.map(({ name, tensor }, i) => ({
      value: registered[name] as tf.Tensor,
      grad: tensor,
      meanSquare: state.accumulatedMeanSquares[i].variable as tf.Tensor,
      moment: state.accumulatedMoments[i].variable as tf.Tensor,
    }));
    const done = nativeRmsprop(operands, {
      learningRate: this.learningRate,
      decay: this.decay,
      momentum: this.momentum,
      epsilon: this.epsilon,
      clipValue: this.clipValue,
    });
    if (done) {
      this.incrementIterations();
      this.compiledUpdates++;
    }
    return done;
  }
}
