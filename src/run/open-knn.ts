/**
 * Opening a run for the knn verdict on the compiled kernels: R's first block, folded, and the epoch's memory, read and
 * verified from the run folder with no TensorFlow.js (loading it and building R and D took most of a cold score).
 */
import * as path from 'path';
import { AloccError } from '../errors';
import { foldBatchNorm } from '../score/fold';
import { CompiledKnnRun } from '../score/knn-verdict';
import { MEMORY_BN, MEMORY_CONV, MEMORY_LRELU } from '../score/nearest';
import { EPOCH_MEMORY_FILE, epochDirFor } from './paths';
import { preprocessingOf, RunAtEpoch } from './select';
import { readModelFiles, readVerifiedInto, WeightSpec } from './verified';

/**
 * Reads the epoch's knn memory (half floats, verified against the run's checksums) into `target`, which must hold
 * exactly images × features of them: what both ways of opening a run read.
 */
export function memoryReader(at: RunAtEpoch): (target: Uint8Array) => void {
  const { images, features } = at.record.memory;
  const epochDir = epochDirFor(at.dir, at.epoch);
  const describe = (bytes: number) => `${path.join(epochDir, EPOCH_MEMORY_FILE)} holds ${bytes} bytes, not ${images}×${features} half floats; retrain`;
  return (target) => readVerifiedInto(epochDir, EPOCH_MEMORY_FILE, at.record.checksums, target, describe);
}

/**
 * The float32 weights whose names `keep` accepts, by name, from a model's manifest and bytes (open-rotation.ts reads with
 * it too): views into `data` where aligned, so the caller must not write to them.
 */
export function weightsByName(specs: WeightSpec[], data: Buffer, file: string, keep: (name: string) => boolean): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new AloccError(`${file}: weight ${s.name} is ${s.dtype}, not float32`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (at + 4 * n > data.length) throw new AloccError(`${file} does not match its weights file: it ends before ${s.name}`);
    if (keep(s.name)) {
      const start = data.byteOffset + at;
      // A view where the bytes are aligned (they are in the files alocc writes, read whole); a copy otherwise.
      out.set(s.name, start % 4 === 0 ? new Float32Array(data.buffer, start, n) : new Float32Array(data.buffer.slice(start, start + 4 * n)));
    }
    at += 4 * n;
  }
  return out;
}

/** The first block of R at `epochDir`, folded: filter [5, 5, channels, co] and bias, LeakyReLU's slope. */
function foldedFirstBlock(epochDir: string, checksums: Record<string, string>): CompiledKnnRun['block'] {
  const { jsonFile, json, specs, data } = readModelFiles(epochDir, 'r', checksums);
  // The first block's conv and BatchNorm only (their names start with the conv's); the rest of R is not copied.
  const weights = weightsByName(specs, data, jsonFile, (name) => name.startsWith(`${MEMORY_CONV}`));
  const layers: { class_name: string; config: Record<string, unknown> }[] = json?.modelTopology?.model_config?.config?.layers ?? json?.modelTopology?.config?.layers ?? [];
  const config = (name: string) => {
    const layer = layers.find((l) => l.config?.name === name);
    if (!layer) throw new AloccError(`${jsonFile} has no layer ${name}: not an alocc R`);
    return layer.config;
  };
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new AloccError(`${jsonFile} lacks ${name}: not an alocc R`);
    return w;
  };
  const kernelSpec = specs.find((s) => s.name === `${MEMORY_CONV}/kernel`);
  if (!kernelSpec || kernelSpec.shape.length !== 4) throw new AloccError(`${jsonFile} lacks ${MEMORY_CONV}/kernel: not an alocc R`);
  const co = kernelSpec.shape[3];
  const bias = weights.get(`${MEMORY_CONV}/bias`) ?? new Float32Array(co);
  const bn = { gamma: weights.get(`${MEMORY_BN}/gamma`), beta: weights.get(`${MEMORY_BN}/beta`), moving_mean: get(`${MEMORY_BN}/moving_mean`), moving_variance: get(`${MEMORY_BN}/moving_variance`) };
  const folded = foldBatchNorm(get(`${MEMORY_CONV}/kernel`), bias, bn, config(MEMORY_BN).epsilon as number);
  const [kh, kw, ci] = kernelSpec.shape;
  return { ...folded, kh, kw, ci, co, alpha: config(MEMORY_LRELU).alpha as number };
}

/** What the compiled knn verdict needs of a run at an epoch, every file verified against the run's checksums. */
export function openKnnRun(at: RunAtEpoch): CompiledKnnRun {
  const { train } = at.run.config;
  return {
    block: foldedFirstBlock(epochDirFor(at.dir, at.epoch), at.record.checksums),
    memory: { ...at.record.memory, file: path.join(epochDirFor(at.dir, at.epoch), EPOCH_MEMORY_FILE), read: memoryReader(at) },
    side: preprocessingOf(at.run.config).size,
    cellPooling: train.cellPooling,
    neighbours: train.neighbours,
  };
}
