/**
 * Research probe (issue 5): R with a variational bottleneck. Trains one digit per argument with the ALOCC schedule
 * (D on x → 1 and R(x̃) → 0, then R twice against frozen D) where R's encoder ends in a latent Gaussian q(z|x̃)
 * (dense mean and log-variance, `--latent` dims) and R's reconstruction term is the per-pixel negative ELBO.
 * Prints test-set AUROC per epoch for: KL error of dec(mean), negative ELBO (KL error + latent KL / pixels), −D(R(x)).
 * Usage: npx tsx bench/research/latent-probe.ts --digits 2,3 [--epochs 5 --latent 32 --beta 1 --r-alpha 10
 *        --lr 0.0005 --variational 1]
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, TrainConfig } from '../../src/config';
import { loadMnistDigits, splitValidation, gatherRows } from '../../src/data/mnist';
import { loadMnist } from '../../test/helpers/mnist';
import { mulberry32, shuffleInPlace } from '../../src/data/random';
import { auroc } from '../../src/eval/metrics';
import { buildDiscriminator } from '../../src/models/discriminator';
import { downsampleBlock, seededInit } from '../../src/models/layers';
import { logitsOf } from '../../src/models/logits';
import { klError } from '../../src/score/pair-scores';
import { bceFromLogits } from '../../src/models/losses';
import { addNoise, discriminatorStep } from '../../src/train/step';
import { makeOptimizer } from '../../src/train/nets';
import { recalibrateBatchNorm } from './bn-recalibration';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const digits = arg('digits', '2,3,5,8').split(',').map(Number);
const epochs = Number(arg('epochs', '5'));
const latent = Number(arg('latent', '32'));
const beta = Number(arg('beta', '1'));
const variational = arg('variational', '1') === '1';
const cfg: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, rAlpha: Number(arg('r-alpha', '10')), learningRate: Number(arg('lr', '0.0005')), noiseStd: Number(arg('noise-std', '0.155')) };
const seed = 42;
const recal = arg('recal', '1') === '1';

function buildR() {
  const m = DEFAULT_MODEL_CONFIG;
  const input = tf.input({ shape: [28, 28, 1] });
  let x = downsampleBlock(input, 32, 'e0', seed, 0);
  x = downsampleBlock(x, 64, 'e1', seed, 1);
  x = downsampleBlock(x, 128, 'e2', seed, 2);
  const flat = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  const mu = tf.layers.dense({ units: latent, kernelInitializer: seededInit(seed, 3) }).apply(flat) as tf.SymbolicTensor;
  const lv = tf.layers.dense({ units: latent, kernelInitializer: tf.initializers.zeros() }).apply(flat) as tf.SymbolicTensor;
  const enc = tf.model({ inputs: input, outputs: [mu, lv] });
  const zIn = tf.input({ shape: [latent] });
  let h = tf.layers.dense({ units: 4 * 4 * 128, activation: 'relu', kernelInitializer: seededInit(seed, 4) }).apply(zIn) as tf.SymbolicTensor;
  h = tf.layers.reshape({ targetShape: [4, 4, 128] }).apply(h) as tf.SymbolicTensor;
  const conv = (f: number, k: number, p: 'same' | 'valid', a: 'relu' | 'linear', i: number) =>
    tf.layers.conv2d({ filters: f, kernelSize: k, padding: p, activation: a, kernelInitializer: seededInit(seed, 10 + i) });
  h = conv(m.gfDim, 5, 'same', 'relu', 0).apply(h) as tf.SymbolicTensor;
  h = tf.layers.upSampling2d({ size: [2, 2] }).apply(h) as tf.SymbolicTensor;
  h = conv(m.gfDim, 5, 'same', 'relu', 1).apply(h) as tf.SymbolicTensor;
  h = tf.layers.upSampling2d({ size: [2, 2] }).apply(h) as tf.SymbolicTensor;
  h = conv(m.gfDim * 2, 3, 'valid', 'relu', 2).apply(h) as tf.SymbolicTensor;
  h = tf.layers.upSampling2d({ size: [2, 2] }).apply(h) as tf.SymbolicTensor;
  const logits = conv(1, 5, 'same', 'linear', 3).apply(h) as tf.SymbolicTensor;
  const dec = tf.model({ inputs: zIn, outputs: logits });
  const muOut = enc.apply(input) as tf.SymbolicTensor[];
  const out = tf.layers.activation({ activation: 'sigmoid' }).apply(dec.apply(muOut[0])) as tf.SymbolicTensor;
  const r = tf.model({ inputs: input, outputs: out });
  return { enc, dec, r };
}

function latentKl(mu: tf.Tensor, lv: tf.Tensor): tf.Tensor1D {
  return tf.mul(0.5, tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(lv)), tf.add(1, lv)), 1)) as tf.Tensor1D;
}

async function main() {
  await selectBackend('wasm');
  const test = loadMnist('test');
  for (const digit of digits) {
    const all = loadMnistDigits(digit, 'train');
    const { trainIdx, valIdx } = splitValidation(all.count, 0.1, seed);
    const train = gatherRows(all.images, 784, trainIdx);
    const val = gatherRows(all.images, 784, valIdx);
    const { enc, dec, r } = buildR();
    const d = buildDiscriminator(DEFAULT_MODEL_CONFIG, seed);
    const nets = { r, d, rOptimizer: makeOptimizer(cfg), dOptimizer: makeOptimizer(cfg) };
    const rVars = [...enc.trainableWeights, ...dec.trainableWeights].map((w) => (w as any).val as tf.Variable);
    const n = Math.floor(trainIdx.length / 128);
    const started = Date.now();
    let step = 0;
    for (let e = 1; e <= epochs; e++) {
      const order = Uint32Array.from({ length: trainIdx.length }, (_, i) => i);
      shuffleInPlace(order, mulberry32(seed * 100 + e));
      let sums = [0, 0, 0, 0];
      for (let b = 0; b < n; b++) {
        const x = tf.tensor4d(gatherRows(train, 784, order.subarray(b * 128, (b + 1) * 128)), [128, 28, 28, 1]);
        const xn = addNoise(x, cfg.noiseStd, 1000 + step);
        const ds = discriminatorStep(nets, x, xn, cfg);
        for (let k = 0; k < 2; k++) {
          const frozen = d.nonTrainableWeights.map((w) => ({ w, v: tf.keep(w.read().clone()) }));
          const parts = tf.tidy(() => {
            let rec: tf.Scalar | null = null, kl: tf.Scalar | null = null;
            const { value, grads } = tf.variableGrads(() => {
              const [mu, lv] = enc.apply(xn, { training: true }) as tf.Tensor[];
              const z = variational ? tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, lv)), tf.randomNormal(mu.shape, 0, 1, 'float32', 5000 + step * 2 + k))) : mu;
              const lg = dec.apply(z, { training: true }) as tf.Tensor;
              const rc = bceFromLogits(lg, x);
              const klm = variational ? tf.div(tf.mean(latentKl(mu, lv)), 784) : tf.div(tf.mean(tf.sum(tf.square(mu), 1)), 2 * 784);
              const adv = bceFromLogits(logitsOf(d, tf.sigmoid(lg), true), 1);
              rec = tf.keep(rc); kl = tf.keep(klm as tf.Scalar);
              return tf.add(tf.mul(cfg.rAlpha, tf.add(rc, tf.mul(beta, klm))), adv) as tf.Scalar;
            }, rVars);
            const c: tf.NamedTensorMap = {};
            for (const name of Object.keys(grads)) c[name] = tf.clipByValue(grads[name], -1, 1);
            nets.rOptimizer.applyGradients(c);
            return [value, rec!, kl!].map((t) => (t as tf.Scalar).dataSync()[0]);
          });
          for (const { w, v } of frozen) { w.write(v); v.dispose(); }
          if (k === 1) { sums[0] += parts[1]; sums[1] += parts[2]; sums[2] += ds.dLossReal.dataSync()[0]; sums[3] += ds.dLossFake.dataSync()[0]; }
        }
        tf.dispose([x, xn, ds.dLossReal, ds.dLossFake]);
        step++;
      }
      if (recal) tf.tidy(() => {
        const x = tf.tensor4d(train.subarray(0, 1000 * 784), [1000, 28, 28, 1]);
        recalibrateBatchNorm(enc, addNoise(x, cfg.noiseStd, 777));
        recalibrateBatchNorm(d, tf.concat([x, r.predict(x) as tf.Tensor4D]));
      });
      const scoreSet = (pix: Float32Array, count: number) => {
        const kl = new Float64Array(count), elbo = new Float64Array(count), negD = new Float64Array(count);
        for (let s = 0; s < count; s += 500) {
          const m = Math.min(500, count - s);
          const [y, lk, dr] = tf.tidy(() => {
            const x = tf.tensor4d(pix.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1]);
            const [mu, lv] = enc.predict(x) as tf.Tensor[];
            const yy = tf.sigmoid(dec.predict(mu) as tf.Tensor);
            return [yy, variational ? latentKl(mu, lv) : tf.div(tf.sum(tf.square(mu), 1), 2), d.predict(yy) as tf.Tensor];
          });
          const yv = y.dataSync() as Float32Array, lkv = lk.dataSync(), drv = dr.dataSync();
          for (let i = 0; i < m; i++) {
            kl[s + i] = klError(pix.subarray((s + i) * 784, (s + i + 1) * 784), yv.subarray(i * 784, (i + 1) * 784));
            elbo[s + i] = kl[s + i] + lkv[i] / 784;
            negD[s + i] = -drv[i];
          }
          tf.dispose([y, lk, dr]);
        }
        return { kl, elbo, negD };
      };
      const t = scoreSet(test.images, 10000);
      const v = scoreSet(val, valIdx.length);
      const isNovel = Uint8Array.from(test.labels, (l) => (l === digit ? 0 : 1));
      const mean = (a: Float64Array) => a.reduce((p, q) => p + q, 0) / a.length;
      console.log(`digit ${digit} epoch ${e} (${((Date.now() - started) / 1000).toFixed(0)} s): rec ${(sums[0] / n).toFixed(4)} kl ${(sums[1] / n).toFixed(4)} dR ${(sums[2] / n).toFixed(3)} dF ${(sums[3] / n).toFixed(3)} | ` +
        `val kl ${mean(v.kl).toFixed(4)} elbo ${mean(v.elbo).toFixed(4)} | AUROC kl ${auroc(t.kl, isNovel).toFixed(4)} elbo ${auroc(t.elbo, isNovel).toFixed(4)} -D(R) ${auroc(t.negD, isNovel).toFixed(4)}`);
    }
    tf.dispose([enc, dec, r, d] as any);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
