/**
 * R, D and their optimisers as training holds them: made fresh, or restored from an epoch's checkpoint with the
 * optimisers' state, and saved with it. Bench and tests build their networks here too.
 */
import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { ModelConfig, TrainConfig } from '../config';
import { AloccError, firstLine } from '../errors';
import { writeDirAtomic } from '../fsutil';
import { buildDiscriminator } from '../models/discriminator';
import { buildReconstructor } from '../models/reconstructor';
import { loadEpochModels, serializeModel } from '../run/checkpoint';
import { epochDirFor } from '../run/paths';
import { RunFile } from '../run/runfile';
import { parseJson, readVerified } from '../run/verified';
import { ClippedRmsprop } from './rmsprop';
import { buildRotationNet } from '../models/rotation-net';
import { RotationTraining, rotationTraining } from './rotation-step';

/** R, D and one optimiser each: what a training step changes. */
export interface AloccNets {
  r: tf.LayersModel;
  d: tf.LayersModel;
  rOptimizer: ClippedRmsprop;
  dOptimizer: ClippedRmsprop;
  /** The rotation net and its optimiser, where the run trains one (TrainConfig.rotationPasses > 0). */
  rotation?: RotationTraining;
}

/** The RMSprop the reference uses (rho 0.9), gradients clipped to ±cfg.clipValue, for one network. */
export function makeOptimizer(cfg: TrainConfig): ClippedRmsprop {
  return new ClippedRmsprop(cfg.learningRate, cfg.clipValue);
}

/** Fresh R, D (and the rotation net where the run has one) and their optimisers for a new run. */
export function createNets(model: ModelConfig, train: TrainConfig): AloccNets {
  return {
    r: buildReconstructor(model, train.seed),
    d: buildDiscriminator(model, train.seed),
    rOptimizer: makeOptimizer(train),
    dOptimizer: makeOptimizer(train),
    ...(train.rotationPasses > 0 ? { rotation: rotationTraining(buildRotationNet(model, train.seed, train.rotationFilters), train) } : {}),
  };
}

export function disposeNets(nets: AloccNets): void {
  [nets.r, nets.d, nets.rOptimizer, nets.dOptimizer, nets.rotation?.net, nets.rotation?.optimizer].forEach((n) => n?.dispose());
}

/** Everything training needs to continue after epoch <n>: R, D and both optimisers with their state. */
export async function loadTrainingState(runDir: string, run: RunFile, epoch: number, train: TrainConfig): Promise<AloccNets> {
  const { r, d, rotation } = loadEpochModels(runDir, run, epoch);
  const epochDir = epochDirFor(runDir, epoch);
  const checksums = run.epochs.find((e) => e.epoch === epoch)!.checksums;
  const specFile = path.join(epochDir, 'optimizers.json');
  const nets: AloccNets = { r, d, rOptimizer: makeOptimizer(train), dOptimizer: makeOptimizer(train) };
  if (rotation) nets.rotation = rotationTraining(rotation, train);
  try {
    const specs = parseJson(readVerified(epochDir, 'optimizers.json', checksums), specFile);
    const bin = readVerified(epochDir, 'optimizers.bin', checksums);
    const rBytes = Number(specs?.rBytes);
    // D's state ends where the rotation net's begins (dBytes); a run without a rotation net has D's to the end.
    const dEnd = specs?.dBytes === undefined ? bin.length : rBytes + Number(specs.dBytes);
    if (!Array.isArray(specs?.r) || !Array.isArray(specs?.d) || !(rBytes >= 0 && dEnd >= rBytes && dEnd <= bin.length)) {
      throw new AloccError(`${specFile} is malformed`);
    }
    if (nets.rotation && !Array.isArray(specs?.rotation)) throw new AloccError(`${specFile} lacks the rotation net's optimiser`);
    await loadOptimizer(nets.rOptimizer, specs.r, bin.subarray(0, rBytes), specFile);
    await loadOptimizer(nets.dOptimizer, specs.d, bin.subarray(rBytes, dEnd), specFile);
    if (nets.rotation) await loadOptimizer(nets.rotation.optimizer, specs.rotation, bin.subarray(dEnd), specFile);
  } catch (err) {
    disposeNets(nets);
    throw err;
  }
  return nets;
}

async function serializeOptimizer(optimizer: tf.Optimizer): Promise<{ specs: tf.io.WeightsManifestEntry[]; bin: Uint8Array }> {
  const weights = await optimizer.getWeights();
  try {
    const { data, specs } = await tf.io.encodeWeights(weights);
    return { specs, bin: new Uint8Array(data) };
  } finally {
    // getWeights makes a fresh scalar for the iteration count (the rest are the optimiser's own variables): two
    // tensors leaked per epoch before this.
    tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  }
}

/**
 * Writes R, D, both optimisers' state and `extra` files (the knn memory) into epoch-<n>/ atomically; returns the
 * files' checksums.
 */
export async function saveEpochCheckpoint(runDir: string, epoch: number, nets: AloccNets, extra: Record<string, Uint8Array> = {}): Promise<Record<string, string>> {
  const [r, d, ro, dopt] = await Promise.all([
    serializeModel(nets.r),
    serializeModel(nets.d),
    serializeOptimizer(nets.rOptimizer),
    serializeOptimizer(nets.dOptimizer),
  ]);
  const rot = nets.rotation && { model: await serializeModel(nets.rotation.net), optimizer: await serializeOptimizer(nets.rotation.optimizer) };
  const rotBytes = rot?.optimizer.bin.length ?? 0;
  const optimizerBin = new Uint8Array(ro.bin.length + dopt.bin.length + rotBytes);
  optimizerBin.set(ro.bin, 0);
  optimizerBin.set(dopt.bin, ro.bin.length);
  if (rot) optimizerBin.set(rot.optimizer.bin, ro.bin.length + dopt.bin.length);
  const specs = rot ? { r: ro.specs, d: dopt.specs, rotation: rot.optimizer.specs, rBytes: ro.bin.length, dBytes: dopt.bin.length } : { r: ro.specs, d: dopt.specs, rBytes: ro.bin.length };
  return writeDirAtomic(epochDirFor(runDir, epoch), {
    'r/model.json': r.json,
    'r/weights.bin': r.bin,
    'd/model.json': d.json,
    'd/weights.bin': d.bin,
    ...(rot ? { 'rotation/model.json': rot.model.json, 'rotation/weights.bin': rot.model.bin } : {}),
    'optimizers.json': JSON.stringify(specs),
    'optimizers.bin': optimizerBin,
    ...extra,
  });
}

async function loadOptimizer(optimizer: tf.Optimizer, specs: tf.io.WeightsManifestEntry[], data: Uint8Array, file: string) {
  let map: tf.NamedTensorMap = {};
  try {
    // A copy of exactly these bytes: `data` may be a Buffer view, whose slice() shares (and whose .buffer is) the
    // whole file, which once handed D's optimiser R's state on resume.
    map = tf.io.decodeWeights(Uint8Array.from(data).buffer, specs);
    await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
  } catch (err) {
    throw new AloccError(`${file} does not hold a valid optimiser state: ${firstLine(err)}`);
  } finally {
    // setWeights makes variables of its own (sharing the data), so the decoded tensors can go.
    tf.dispose(Object.values(map));
  }
}
