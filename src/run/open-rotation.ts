/**
 * Opening a run's rotation net for the compiled engine, with no TensorFlow.js: the epoch's rotation/model.json and
 * weights, verified against the run's checksums, each BatchNorm folded into the conv before it (as open-knn.ts folds
 * R's first block), and knnRotation's validation scales. src/score/rotation-compiled.ts runs what this returns.
 */
import { TrainConfig } from '../config';
import { AloccError } from '../errors';
import { RotationCombination } from '../score/combined-score';
import { foldBatchNorm } from '../score/fold';
import { CompiledRotationNet } from '../score/rotation-compiled';
import { weightsByName } from './open-knn';
import { epochDirFor } from './paths';
import { EpochRecord } from './runfile';
import { RunAtEpoch } from './select';
import { readModelFiles } from './verified';

/** The rotation net's blocks (src/models/rotation-net.ts names them so). */
const BLOCKS = 4;

type LayerConfig = Record<string, unknown>;

const pair = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : [Number(v), Number(v)]);

/** The rotation net of the run at `at`'s epoch, folded; refused where the files are not the net alocc trains. */
export function openRotationNet(at: RunAtEpoch): CompiledRotationNet {
  return readRotationNet(epochDirFor(at.dir, at.epoch), at.record.checksums);
}

/** The rotation net in `epochDir`/rotation/, verified against `checksums` and folded. */
export function readRotationNet(epochDir: string, checksums: Record<string, string>): CompiledRotationNet {
  const { jsonFile, json, specs, data } = readModelFiles(epochDir, 'rotation', checksums);
  const weights = weightsByName(specs, data, jsonFile, (name) => name.startsWith('rot_'));
  const layers: { class_name: string; config: LayerConfig }[] = json?.modelTopology?.model_config?.config?.layers ?? json?.modelTopology?.config?.layers ?? [];
  const notOurs = (what: string) => new AloccError(`${jsonFile}: ${what}; not an alocc rotation net, retrain`);
  const config = (name: string, className: string): LayerConfig => {
    const layer = layers.find((l) => l.config?.name === name);
    if (!layer) throw notOurs(`no layer ${name}`);
    if (layer.class_name !== className) throw notOurs(`${name} is a ${layer.class_name}, not a ${className}`);
    return layer.config;
  };
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw notOurs(`it lacks ${name}`);
    return w;
  };
  const shapeOf = (name: string) => specs.find((s) => s.name === name)?.shape ?? [];

  let shrink = 1;
  if (layers.some((l) => l.config?.name === 'rot_shrink')) {
    const c = config('rot_shrink', 'AveragePooling2D');
    const [ph, pw] = pair(c.pool_size);
    const [sh, sw] = pair(c.strides ?? c.pool_size);
    if (ph !== pw || sh !== ph || sw !== ph || (c.padding ?? 'valid') !== 'valid') throw notOurs(`rot_shrink pools ${ph}×${pw} by ${sh}×${sw} '${c.padding}'`);
    shrink = ph;
  }
  const blocks: CompiledRotationNet['blocks'] = [];
  for (let i = 0; i < BLOCKS; i++) {
    const name = `rot_conv${i}`;
    const conv = config(name, 'Conv2D');
    const shape = shapeOf(`${name}/kernel`);
    if (shape.length !== 4) throw notOurs(`it lacks ${name}/kernel`);
    const [kh, kw, ci, co] = shape;
    if (conv.padding !== 'same' || pair(conv.strides ?? 1).some((s) => s !== 1) || pair(conv.dilation_rate ?? 1).some((d) => d !== 1) || (conv.activation ?? 'linear') !== 'linear') {
      throw notOurs(`${name} is not a stride-1 'same' conv without activation`);
    }
    const bnConfig = config(`${name}_bn`, 'BatchNormalization');
    const bn = { gamma: weights.get(`${name}_bn/gamma`), beta: weights.get(`${name}_bn/beta`), moving_mean: get(`${name}_bn/moving_mean`), moving_variance: get(`${name}_bn/moving_variance`) };
    const folded = foldBatchNorm(get(`${name}/kernel`), weights.get(`${name}/bias`) ?? new Float32Array(co), bn, bnConfig.epsilon as number);
    const alpha = config(`${name}_lrelu`, 'LeakyReLU').alpha as number;
    const pool = config(`rot_pool${i}`, 'MaxPooling2D');
    if (pair(pool.pool_size).some((p) => p !== 2) || pair(pool.strides ?? pool.pool_size).some((s) => s !== 2) || pool.padding !== 'same') throw notOurs(`rot_pool${i} is not a 2×2 stride-2 'same' max pool`);
    if (i > 0 && ci !== blocks[i - 1].co) throw notOurs(`${name} takes ${ci} channels, not ${blocks[i - 1].co}`);
    blocks.push({ ...folded, kh, kw, ci, co, alpha });
  }
  config('rot_mean', 'GlobalAveragePooling2D');
  const dense = config('rot_logits', 'Dense');
  const [inputs, units] = shapeOf('rot_logits/kernel');
  if (inputs !== blocks[BLOCKS - 1].co || (dense.activation ?? 'linear') !== 'linear') throw notOurs(`rot_logits does not take the last block's ${blocks[BLOCKS - 1].co} channels to logits`);
  return { shrink, blocks, dense: { kernel: get('rot_logits/kernel'), bias: weights.get('rot_logits/bias') ?? new Float32Array(units), units } };
}

/** knnRotation's scales at an epoch (the knn's and rotation score's validation mean and sd, checked when the run file is read) and the run's cap. */
export function combinationOf(record: EpochRecord, train: Pick<TrainConfig, 'rotationCap'>): RotationCombination {
  const { knn, rotation } = record.validation;
  return { knn: { mean: knn.mean, sd: knn.sd! }, rotation: { mean: rotation!.mean, sd: rotation!.sd! }, rotationCap: train.rotationCap };
}
