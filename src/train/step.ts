import * as tf from '@tensorflow/tfjs';
import { TrainConfig } from '../config';
import { logitsOf } from '../models/logits';
import { bce, bceFromLogits } from '../models/losses';
import { BatchLosses } from '../run/runfile';
import { AloccNets } from './nets';
import { ClippedRmsprop } from './rmsprop';

function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/** One update of `vars` on `loss` (the optimiser clips the gradients element-wise); returns the loss before it. */
function update(optimizer: ClippedRmsprop, vars: tf.Variable[], loss: () => tf.Scalar): tf.Scalar {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, vars);
    optimizer.applyGradients(grads);
    return value;
  });
}

/**
 * Runs `fn` with D's BatchNorm moving statistics put back afterwards: in R's step D must be frozen, but tfjs-layers
 * updates moving averages whenever a BatchNorm layer runs in training mode.
 */
function withFrozenStatistics<T>(model: tf.LayersModel, fn: () => T): T {
  const frozen = model.nonTrainableWeights.map((w) => ({ w, value: tf.keep(w.read().clone()) }));
  try {
    return fn();
  } finally {
    for (const { w, value } of frozen) {
      w.write(value);
      value.dispose();
    }
  }
}

/** BCE of D on `x` against the label `t`, from D's logits or its clipped output as cfg.bce says. */
function dLoss(d: tf.LayersModel, x: tf.Tensor, t: number, cfg: TrainConfig): tf.Scalar {
  return cfg.bce === 'logits' ? bceFromLogits(logitsOf(d, x, true), t) : bce(d.apply(x, { training: true }) as tf.Tensor, t);
}

/** Adds N(0, noiseStd²) to every pixel; seeded so a resumed run draws the same noise. */
export function addNoise(x: tf.Tensor4D, noiseStd: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, noiseStd, 'float32', seed)));
}

/**
 * D's step, as the reference does it: one update on real images labelled 1, then one on R's reconstructions of the
 * noisy images labelled 0 (R in inference mode, as Keras' predict()). Each update sees a batch of one kind only, so
 * BatchNorm statistics are per kind, as in the reference.
 */
export function discriminatorStep(nets: AloccNets, x: tf.Tensor4D, xNoisy: tf.Tensor4D, cfg: TrainConfig) {
  const vars = trainableVariables(nets.d);
  const real = update(nets.dOptimizer, vars, () => dLoss(nets.d, x, 1, cfg));
  const fakeLoss = tf.tidy(() => {
    const fake = nets.r.apply(xNoisy, { training: false }) as tf.Tensor4D;
    return update(nets.dOptimizer, vars, () => dLoss(nets.d, fake, 0, cfg));
  });
  return { dLossReal: real, dLossFake: fakeLoss };
}

/** R's step with D frozen: minimises rAlpha·BCE(R(x̃), x) + BCE(D(R(x̃)), 1). */
export function reconstructorStep(nets: AloccNets, x: tf.Tensor4D, xNoisy: tf.Tensor4D, cfg: TrainConfig) {
  const vars = trainableVariables(nets.r);
  let recon: tf.Scalar | null = null;
  let adv: tf.Scalar | null = null;
  const total = withFrozenStatistics(nets.d, () =>
    update(nets.rOptimizer, vars, () => {
      let y: tf.Tensor4D, r: tf.Scalar;
      if (cfg.bce === 'logits') {
        const z = logitsOf(nets.r, xNoisy, true);
        y = tf.sigmoid(z) as tf.Tensor4D;
        r = bceFromLogits(z, x);
      } else {
        y = nets.r.apply(xNoisy, { training: true }) as tf.Tensor4D;
        r = bce(y, x);
      }
      const a = dLoss(nets.d, y, 1, cfg);
      recon = tf.keep(r);
      adv = tf.keep(a);
      return tf.add(tf.mul(r, cfg.rAlpha), a) as tf.Scalar;
    }),
  );
  return { gLoss: total, reconLoss: recon! as tf.Scalar, advLoss: adv! as tf.Scalar };
}

/**
 * One batch of the ALOCC schedule: noise, D's step, then `rStepsPerBatch` R steps on the same noisy batch. Returns
 * plain numbers; every tensor it makes is disposed.
 */
export function trainBatch(nets: AloccNets, x: tf.Tensor4D, cfg: TrainConfig, noiseSeed: number): BatchLosses {
  const xNoisy = addNoise(x, cfg.noiseStd, noiseSeed);
  try {
    return trainNoisyBatch(nets, x, xNoisy, cfg);
  } finally {
    xNoisy.dispose();
  }
}

/**
 * trainBatch with the noisy images given: the schedule itself, for a caller that draws the noise elsewhere (a
 * data-parallel worker gets its shard of the whole batch's noise, bench/research/parallel-worker.ts).
 */
export function trainNoisyBatch(nets: AloccNets, x: tf.Tensor4D, xNoisy: tf.Tensor4D, cfg: TrainConfig): BatchLosses {
  const scalars: tf.Scalar[] = [];
  try {
    const d = discriminatorStep(nets, x, xNoisy, cfg);
    scalars.push(d.dLossReal, d.dLossFake);
    let r = reconstructorStep(nets, x, xNoisy, cfg);
    for (let i = 1; i < cfg.rStepsPerBatch; i++) {
      tf.dispose([r.gLoss, r.reconLoss, r.advLoss]);
      r = reconstructorStep(nets, x, xNoisy, cfg);
    }
    scalars.push(r.gLoss, r.reconLoss, r.advLoss);
    const [dLossReal, dLossFake, gLoss, reconLoss, advLoss] = scalars.map((s) => s.dataSync()[0]);
    return { dLossReal, dLossFake, gLoss, reconLoss, advLoss };
  } finally {
    tf.dispose(scalars);
  }
}
