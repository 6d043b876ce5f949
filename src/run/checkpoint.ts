import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { AloccError, firstLine } from '../errors';
import { buildDiscriminator } from '../models/discriminator';
import { buildReconstructor } from '../models/reconstructor';
import { buildRotationNet } from '../models/rotation-net';
import { epochDirFor } from './paths';
import { RunFile } from './runfile';
import { readModelFiles } from './verified';

/** model.json + weights.bin in the tfjs layers format, as in-memory files. */
export async function serializeModel(model: tf.LayersModel): Promise<{ json: string; bin: Uint8Array }> {
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

function loadModelWeights(model: tf.LayersModel, epochDir: string, sub: 'r' | 'd' | 'rotation', checksums: Record<string, string>): void {
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

export interface LoadedNets {
  r: tf.LayersModel;
  d: tf.LayersModel;
  /** The rotation net, where the run trains one (config.train.rotationPasses > 0). */
  rotation?: tf.LayersModel;
}

/** Builds R, D (and the rotation net) from the run's config and fills them from epoch <n>'s verified files. */
export function loadEpochModels(runDir: string, run: RunFile, epoch: number): LoadedNets {
  const record = run.epochs.find((e) => e.epoch === epoch);
  if (!record) {
    const have = run.epochs.map((e) => e.epoch).join(', ') || 'none';
    throw new AloccError(`epoch ${epoch} has no checkpoint in ${runDir} (completed epochs: ${have})`);
  }
  const epochDir = epochDirFor(runDir, epoch);
  const r = buildReconstructor(run.config.model, run.config.train.seed);
  const d = buildDiscriminator(run.config.model, run.config.train.seed);
  const rotation = run.config.train.rotationPasses > 0 ? buildRotationNet(run.config.model, run.config.train.seed, run.config.train.rotationFilters) : undefined;
  try {
    loadModelWeights(r, epochDir, 'r', record.checksums);
    loadModelWeights(d, epochDir, 'd', record.checksums);
    if (rotation) loadModelWeights(rotation, epochDir, 'rotation', record.checksums);
  } catch (err) {
    r.dispose();
    d.dispose();
    rotation?.dispose();
    throw err;
  }
  return rotation ? { r, d, rotation } : { r, d };
}
