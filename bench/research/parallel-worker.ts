/**
 * One data-parallel training worker (see parallel.ts): its own tfjs and wasm instance, its own copy of R and D built
 * from the shared seed, and its shard of every batch. Workers meet at each update to average gradients through
 * shared memory, so every copy applies the same update and stays identical.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { ModelConfig, TrainConfig } from '../../src/config';
import { buildDiscriminator } from '../../src/models/discriminator';
import { buildReconstructor } from '../../src/models/reconstructor';
import { readModelWeights, writeModelWeights } from './parallel';
import { trainNoisyBatch } from '../../src/train/step';
import { AloccNets } from '../../src/train/nets';
import { ClippedRmsprop } from '../../src/train/rmsprop';

export interface WorkerInit {
  rank: number;
  size: number;
  backend: 'wasm' | 'cpu';
  train: TrainConfig;
  model: ModelConfig;
  seed: number;
  /** size × slot floats: each worker writes its gradients (or statistics) into its slot. */
  exchange: SharedArrayBuffer;
  slot: number;
  /** Int32 [arrived, generation]: the barrier. */
  barrier: SharedArrayBuffer;
}

export type WorkerRequest =
  | { kind: 'batch'; x: Float32Array; xNoisy: Float32Array; count: number }
  | { kind: 'getWeights' }
  | { kind: 'setWeights'; r: Float32Array[]; d: Float32Array[] };

const init = workerData as WorkerInit;
const exchange = new Float32Array(init.exchange);
const control = new Int32Array(init.barrier);

/** Blocks until every worker has called it as often as this one. */
function barrier() {
  const generation = Atomics.load(control, 1);
  if (Atomics.add(control, 0, 1) === init.size - 1) {
    Atomics.store(control, 0, 0);
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  } else {
    Atomics.wait(control, 1, generation);
  }
}

/** The mean over workers of `values`; every worker adds the slots in the same order, so all get the same floats. */
function allAverage(values: Float32Array): Float32Array {
  if (values.length > init.slot) throw new Error(`parallel worker: ${values.length} values exceed the exchange slot of ${init.slot}`);
  exchange.set(values, init.rank * init.slot);
  barrier();
  const mean = new Float32Array(values.length);
  for (let w = 0; w < init.size; w++) {
    const offset = w * init.slot;
    for (let i = 0; i < values.length; i++) mean[i] += exchange[offset + i];
  }
  for (let i = 0; i < mean.length; i++) mean[i] /= init.size;
  barrier(); // nobody may overwrite its slot before everyone has read
  return mean;
}

function averageGradients(grads: tf.NamedTensorMap): tf.NamedTensorMap {
  const names = Object.keys(grads);
  const flat = new Float32Array(names.reduce((n, k) => n + grads[k].size, 0));
  let offset = 0;
  for (const k of names) {
    flat.set(grads[k].dataSync(), offset);
    offset += grads[k].size;
  }
  const mean = allAverage(flat);
  const out: tf.NamedTensorMap = {};
  offset = 0;
  for (const k of names) {
    out[k] = tf.tensor(mean.subarray(offset, offset + grads[k].size), grads[k].shape);
    offset += grads[k].size;
  }
  return out;
}

/** The product's optimiser, applying the workers' mean gradient instead of this worker's own. */
class AveragingRmsprop extends ClippedRmsprop {
  override applyGradients(gradients: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>): void {
    const own: tf.NamedTensorMap = Array.isArray(gradients) ? Object.fromEntries(gradients.map((g) => [g.name, g.tensor])) : gradients;
    tf.tidy(() => super.applyGradients(averageGradients(own)));
  }
}

/**
 * BatchNorm moving statistics follow each worker's own shard; averaging them after every batch keeps the copies
 * identical (the mean of the moving means is exactly the moving mean of the full-batch means).
 */
function averageStatistics(nets: AloccNets) {
  const weights = [...nets.r.nonTrainableWeights, ...nets.d.nonTrainableWeights];
  const flat = new Float32Array(weights.reduce((n, w) => n + w.read().size, 0));
  let offset = 0;
  for (const w of weights) {
    const v = w.read().dataSync();
    flat.set(v, offset);
    offset += v.length;
  }
  const mean = allAverage(flat);
  offset = 0;
  for (const w of weights) {
    const { size: n, shape } = w.read();
    const value = tf.tensor(mean.slice(offset, offset + n), shape);
    w.write(value);
    value.dispose();
    offset += n;
  }
}

async function main() {
  await selectBackend(init.backend);
  // Every update's gradients are averaged over the workers before the optimiser applies them.
  const nets: AloccNets = {
    r: buildReconstructor(init.model, init.seed),
    d: buildDiscriminator(init.model, init.seed),
    rOptimizer: new AveragingRmsprop(init.train.learningRate, init.train.clipValue),
    dOptimizer: new AveragingRmsprop(init.train.learningRate, init.train.clipValue),
  };
  const s = init.model.inputSize;
  parentPort!.on('message', (msg: WorkerRequest) => {
    try {
      if (msg.kind === 'batch') {
        const shape: [number, number, number, number] = [msg.count, s, s, init.model.channels];
        const x = tf.tensor4d(msg.x, shape);
        const xNoisy = tf.tensor4d(msg.xNoisy, shape);
        const losses = trainNoisyBatch(nets, x, xNoisy, init.train);
        tf.dispose([x, xNoisy]);
        averageStatistics(nets);
        parentPort!.postMessage({ kind: 'losses', losses });
      } else if (msg.kind === 'getWeights') {
        parentPort!.postMessage({ kind: 'weights', r: readModelWeights(nets.r), d: readModelWeights(nets.d) });
      } else if (msg.kind === 'setWeights') {
        writeModelWeights(nets.r, msg.r);
        writeModelWeights(nets.d, msg.d);
        parentPort!.postMessage({ kind: 'done' });
      }
    } catch (err) {
      parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  });
  parentPort!.postMessage({ kind: 'ready' });
}

main().catch((err) => parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) }));
