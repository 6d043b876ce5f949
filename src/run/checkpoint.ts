import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { ModelConfig, TrainConfig } from '../config';
import { AloccError, firstLine } from '../errors';
import { writeDirAtomic } from '../fsutil';
import { buildDiscriminator } from '../models/discriminator';
import { buildReconstructor } from '../models/reconstructor';
import { epochDirFor } from './paths';
import { RunFile } from './runfile';
import { parseJson, readModelFiles, readVerified } from './verified';

export { readVerified, readVerifiedInto } from './verified';
import { AloccNets, makeOptimizer } from '../train/step';


/** model.json + weights.bin in the tfjs layers format, as in-memory files. */
async function serializeModel(model: tf.LayersModel): Promise<{ json: string; bin: Uint8Array }> {
  let out: { json: string; bin: Uint8Array } | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const bin = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!));
      const json = JSON.stringify({
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      });
      out = { json, bin };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
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
  const optimizerBin = new Uint8Array(ro.bin.length + dopt.bin.length);
  optimizerBin.set(ro.bin, 0);
  optimizerBin.set(dopt.bin, ro.bin.length);
  return writeDirAtomic(epochDirFor(runDir, epoch), {
    'r/model.json': r.json,
    'r/weights.bin': r.bin,
    'd/model.json': d.json,
    'd/weights.bin': d.bin,
    'optimizers.json': JSON.stringify({ r: ro.specs, d: dopt.specs, rBytes: ro.bin.length }),
    'optimizers.bin': optimizerBin,
    ...extra,
  });
}

/** Copies weights by name into `model`, demanding the same names and shapes: a checkpoint of another network fails. */
function assignWeights(model: tf.LayersModel, weights: tf.NamedTensorMap, file: string): void {
  const expected = model.weights.map((w) => w.originalName);
  const missing = expected.filter((n) => !(n in weights));
  const extra = Object.keys(weights).filter((n) => !expected.includes(n));
  if (missing.length || extra.length) {
    const what = missing.length ? `lacks ${missing[0]}` : `has unexpected weight ${extra[0]}`;
    throw new AloccError(`${file} does not match the ${model.name} network of this run: it ${what}`);
  }
  for (const w of model.weights) {
    const t = weights[w.originalName];
    if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
      throw new AloccError(`${file} does not match ${model.name}: ${w.originalName} has shape [${t.shape}], expected [${w.shape}]`);
    }
    w.write(t);
  }
}

function loadModelWeights(model: tf.LayersModel, epochDir: string, sub: 'r' | 'd', checksums: Record<string, string>): void {
  const { jsonFile, specs, data } = readModelFiles(epochDir, sub, checksums);
  let weights: tf.NamedTensorMap;
  try {
    weights = tf.io.decodeWeights(new Uint8Array(data).buffer, specs as tf.io.WeightsManifestEntry[]);
  } catch (err) {
    throw new AloccError(`${jsonFile} does not match its weights file: ${firstLine(err)}`);
  }
  try {
    assignWeights(model, weights, jsonFile);
  } finally {
    tf.dispose(Object.values(weights));
  }
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

export interface LoadedNets {
  r: tf.LayersModel;
  d: tf.LayersModel;
}

/** Builds R and D from the run's config and fills them from epoch <n>'s verified files. */
export function loadEpochModels(runDir: string, run: RunFile, epoch: number): LoadedNets {
  const record = run.epochs.find((e) => e.epoch === epoch);
  if (!record) {
    const have = run.epochs.map((e) => e.epoch).join(', ') || 'none';
    throw new AloccError(`epoch ${epoch} has no checkpoint in ${runDir} (completed epochs: ${have})`);
  }
  const epochDir = epochDirFor(runDir, epoch);
  const r = buildReconstructor(run.config.model, run.config.train.seed);
  const d = buildDiscriminator(run.config.model, run.config.train.seed);
  try {
    loadModelWeights(r, epochDir, 'r', record.checksums);
    loadModelWeights(d, epochDir, 'd', record.checksums);
  } catch (err) {
    r.dispose();
    d.dispose();
    throw err;
  }
  return { r, d };
}

/** Everything training needs to continue after epoch <n>: R, D and both optimisers with their state. */
export async function loadTrainingState(runDir: string, run: RunFile, epoch: number, train: TrainConfig): Promise<AloccNets> {
  const { r, d } = loadEpochModels(runDir, run, epoch);
  const epochDir = epochDirFor(runDir, epoch);
  const checksums = run.epochs.find((e) => e.epoch === epoch)!.checksums;
  const specFile = path.join(epochDir, 'optimizers.json');
  const nets: AloccNets = { r, d, rOptimizer: makeOptimizer(train), dOptimizer: makeOptimizer(train) };
  try {
    const specs = parseJson(readVerified(epochDir, 'optimizers.json', checksums), specFile);
    const bin = readVerified(epochDir, 'optimizers.bin', checksums);
    const rBytes = Number(specs?.rBytes);
    if (!Array.isArray(specs?.r) || !Array.isArray(specs?.d) || !(rBytes >= 0 && rBytes <= bin.length)) {
      throw new AloccError(`${specFile} is malformed`);
    }
    await loadOptimizer(nets.rOptimizer, specs.r, bin.subarray(0, rBytes), specFile);
    await loadOptimizer(nets.dOptimizer, specs.d, bin.subarray(rBytes), specFile);
  } catch (err) {
    [r, d, nets.rOptimizer, nets.dOptimizer].forEach((n) => n.dispose());
    throw err;
  }
  return nets;
}

/** Fresh R, D and optimisers for a new run. */
export function createNets(model: ModelConfig, train: TrainConfig): AloccNets {
  return {
    r: buildReconstructor(model, train.seed),
    d: buildDiscriminator(model, train.seed),
    rOptimizer: makeOptimizer(train),
    dOptimizer: makeOptimizer(train),
  };
}
