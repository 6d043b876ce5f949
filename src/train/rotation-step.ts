/**
 * The rotation net's training step: every picture of the batch in its four quarter turns, softmax cross-entropy on
 * which turn it is, one Adam update. It touches the rotation net only: R, D and their optimisers are not read.
 */
import * as tf from '@tensorflow/tfjs';
import { TrainConfig } from '../config';
import { allTurns } from '../models/rotation-net';
import { fuseBatchNormTraining } from './rotation-batchnorm';

/** A rotation step's inputs: the pictures in their four turns and each row's turn (allTurns, turnedRows). */
export type TurnedBatch = { turned: tf.Tensor4D; turns: tf.Tensor1D };

/** The rotation net and its optimiser, as training holds them. */
export interface RotationTraining {
  net: tf.LayersModel;
  optimizer: tf.AdamOptimizer;
}

function makeRotationOptimizer(cfg: TrainConfig): tf.AdamOptimizer {
  return tf.train.adam(cfg.rotationLearningRate);
}

/**
 * `net` ready to train: its BatchNorms' training calls routed through the fused kernel once, here, rather than on
 * every step (./rotation-batchnorm.ts), and a fresh optimiser.
 */
export function rotationTraining(net: tf.LayersModel, cfg: TrainConfig): RotationTraining {
  fuseBatchNormTraining(net);
  return { net, optimizer: makeRotationOptimizer(cfg) };
}

/** Plain numbers from one rotation step. */
export interface RotationLosses {
  /** Cross-entropy of the turn, mean over the batch's 4·n inputs, before the update. */
  rotationLoss: number;
  /** Share of the 4·n inputs whose turn the net told right (training mode), before the update. */
  rotationAccuracy: number;
}

/** One update of the rotation net on the pictures `x` ([n, s, s, c] in [0, 1]); every tensor it makes is disposed. */
export function rotationStep(rot: RotationTraining, x: tf.Tensor4D): RotationLosses {
  return rotationStepOnTurns(rot, () => allTurns(x));
}

/** rotationStep on the batch `turn()` makes (called inside the step's tidy, so its tensors are disposed with it). */
export function rotationStepOnTurns(rot: RotationTraining, turn: () => TurnedBatch): RotationLosses {
  const vars = rot.net.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const [loss, hits] = tf.tidy(() => {
    const { turned, turns } = turn();
    const labels = tf.oneHot(turns, 4);
    let right: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = rot.net.apply(turned, { training: true }) as tf.Tensor2D;
      right = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), turns), 'float32')) as tf.Scalar);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, vars);
    // variableGrads names each gradient by its variable, which is what applyGradients reads.
    rot.optimizer.applyGradients(grads as unknown as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
    return [value, right! as tf.Scalar];
  });
  try {
    return { rotationLoss: loss.dataSync()[0], rotationAccuracy: hits.dataSync()[0] };
  } finally {
    tf.dispose([loss, hits]);
  }
}
