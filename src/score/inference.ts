/**
 * R and D for scoring: the same networks as their LayersModels in inference mode, with each BatchNorm folded into the
 * conv before it and each LeakyReLU run as that conv's fused activation, so a downsampling block is one conv instead
 * of three passes over its output, and without tfjs-layers' per-call bookkeeping. On 10,000 MNIST pictures the
 * separate BatchNorm and LeakyReLU passes took ~3.2 s of ~10 s of forward CPU time (bench/NOTES.md, issue 12).
 *
 * Folding: BatchNorm in inference is y = (z − mean)·γ/√(var + ε) + β per channel, and z = conv(x, W) + b, so
 * y = conv(x, W·s) + (b − mean)·s + β with s = γ/√(var + ε), computed here in double precision. Scores agree with the
 * LayersModel's within float32 rounding (test/inference.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormWeights, foldBatchNorm } from './fold';

type Activation = 'linear' | 'relu' | 'sigmoid' | 'leakyrelu';

type Step =
  | { kind: 'conv'; filter: tf.Tensor4D; bias: tf.Tensor1D; strides: [number, number]; pad: 'same' | 'valid'; activation: Activation; alpha: number }
  | { kind: 'upsample'; size: [number, number] }
  | { kind: 'crop'; cropping: [[number, number], [number, number]] }
  | { kind: 'flatten' }
  | { kind: 'dense'; kernel: tf.Tensor2D; bias: tf.Tensor1D; activation: 'linear' | 'sigmoid' }
  | { kind: 'activation'; activation: Activation; alpha: number };

/** A network as a list of steps; `layers[i]` names the model layers step i stands for (its output is theirs). */
export interface InferenceNet {
  steps: Step[];
  layers: string[][];
  /** The output for `x`; intermediates are freed as soon as they are used. */
  run(x: tf.Tensor): { output: tf.Tensor };
  /** Frees the folded weights. */
  dispose(): void;
}

/** A layer's weights by their short names (kernel, bias, gamma, moving_mean, ...), copied out. */
function weightsByName(layer: tf.layers.Layer): Record<string, { values: Float32Array; shape: number[] }> {
  const out: Record<string, { values: Float32Array; shape: number[] }> = {};
  for (const w of layer.weights) out[w.originalName.split('/').pop()!] = { values: w.read().dataSync() as Float32Array, shape: w.shape as number[] };
  return out;
}

function pair(v: number | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];
}

function step(x: tf.Tensor, s: Step): tf.Tensor {
  switch (s.kind) {
    case 'conv': {
      const { filter, bias, strides, pad } = s;
      return tf.fused.conv2d({ x: x as tf.Tensor4D, filter, bias, strides, pad, activation: s.activation, leakyreluAlpha: s.alpha });
    }
    case 'upsample': {
      const [, h, w] = x.shape;
      return tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [h! * s.size[0], w! * s.size[1]]);
    }
    case 'crop': {
      const [n, h, w, c] = x.shape;
      const [[top, bottom], [left, right]] = s.cropping;
      return tf.slice(x, [0, top, left, 0], [n, h! - top - bottom, w! - left - right, c!]);
    }
    case 'flatten':
      return tf.reshape(x, [x.shape[0], -1]);
    case 'dense': {
      const z = tf.add(tf.matMul(x as tf.Tensor2D, s.kernel), s.bias);
      return s.activation === 'sigmoid' ? tf.sigmoid(z) : z;
    }
    case 'activation':
      if (s.activation === 'leakyrelu') return tf.leakyRelu(x, s.alpha);
      if (s.activation === 'relu') return tf.relu(x);
      return s.activation === 'sigmoid' ? tf.sigmoid(x) : x;
  }
}

function stepWeights(s: Step): tf.Tensor[] {
  return s.kind === 'conv' ? [s.filter, s.bias] : s.kind === 'dense' ? [s.kernel, s.bias] : [];
}

/**
 * The inference steps of `model`, a chain of Conv2D (linear, relu or sigmoid), BatchNormalization, LeakyReLU,
 * UpSampling2D (nearest), Cropping2D, Flatten and Dense (linear or sigmoid) layers, as alocc's R and D are. Its
 * weights are copied: training the model afterwards does not change the plan. With `through`, the plan ends after
 * that layer (scoring by knn needs R's first block only, folded exactly as the whole plan folds it).
 */
export function inferenceNet(model: tf.LayersModel, opts: { through?: string } = {}): InferenceNet {
  const steps: Step[] = [];
  const layers: string[][] = [];
  const fail = (layer: tf.layers.Layer, why: string) => {
    tf.dispose(steps.flatMap(stepWeights));
    throw new Error(`inferenceNet: ${model.name}'s layer ${layer.name} (${layer.getClassName()}) ${why}`);
  };
  for (const layer of model.layers) {
    if (opts.through !== undefined && layers[layers.length - 1]?.includes(opts.through)) break;
    const cfg = layer.getConfig() as Record<string, unknown>;
    const last = steps[steps.length - 1];
    switch (layer.getClassName()) {
      case 'InputLayer':
        continue;
      case 'Conv2D': {
        const { kernel, bias: b } = weightsByName(layer);
        const activation = (cfg.activation ?? 'linear') as Activation;
        if (!['linear', 'relu', 'sigmoid'].includes(activation) || [cfg.dilationRate ?? 1].flat().some((d) => d !== 1)) fail(layer, 'is not supported');
        const filter = tf.tensor4d(kernel.values, kernel.shape as [number, number, number, number]);
        const bias = b ? tf.tensor1d(b.values) : (tf.zeros([kernel.shape[3]]) as tf.Tensor1D);
        steps.push({ kind: 'conv', filter, bias, strides: pair(cfg.strides as number[]), pad: cfg.padding as 'same' | 'valid', activation, alpha: 0 });
        layers.push([layer.name]);
        continue;
      }
      case 'BatchNormalization': {
        if (last?.kind !== 'conv' || last.activation !== 'linear' || (cfg.axis !== -1 && cfg.axis !== 3)) fail(layer, 'does not follow a linear conv');
        const conv = last as Extract<Step, { kind: 'conv' }>;
        const w = Object.fromEntries(Object.entries(weightsByName(layer)).map(([k, v]) => [k, v.values]));
        const folded = foldBatchNorm(conv.filter.dataSync(), conv.bias.dataSync(), w as unknown as BatchNormWeights, cfg.epsilon as number);
        tf.dispose([conv.filter, conv.bias]);
        conv.filter = tf.tensor4d(folded.filter, conv.filter.shape);
        conv.bias = tf.tensor1d(folded.bias);
        layers[layers.length - 1].push(layer.name);
        continue;
      }
      case 'LeakyReLU': {
        const alpha = cfg.alpha as number;
        if (last?.kind === 'conv' && last.activation === 'linear') {
          last.activation = 'leakyrelu';
          last.alpha = alpha;
          layers[layers.length - 1].push(layer.name);
        } else {
          steps.push({ kind: 'activation', activation: 'leakyrelu', alpha });
          layers.push([layer.name]);
        }
        continue;
      }
      case 'UpSampling2D':
        if (cfg.interpolation !== undefined && cfg.interpolation !== 'nearest') fail(layer, 'is not nearest-neighbour');
        steps.push({ kind: 'upsample', size: pair(cfg.size as number[]) });
        break;
      case 'Cropping2D':
        steps.push({ kind: 'crop', cropping: cfg.cropping as [[number, number], [number, number]] });
        break;
      case 'Flatten':
        steps.push({ kind: 'flatten' });
        break;
      case 'Dense': {
        const activation = (cfg.activation ?? 'linear') as 'linear' | 'sigmoid';
        if (activation !== 'linear' && activation !== 'sigmoid') fail(layer, 'is not supported');
        const { kernel, bias } = weightsByName(layer);
        steps.push({ kind: 'dense', kernel: tf.tensor2d(kernel.values, kernel.shape as [number, number]), bias: tf.tensor1d(bias.values), activation });
        break;
      }
      default:
        fail(layer, 'is not supported');
    }
    layers.push([layer.name]);
  }
  return {
    steps,
    layers,
    run(x) {
      let h = x;
      for (const s of steps) {
        const next = step(h, s);
        // Freed as soon as used, not at the end of the caller's tidy: at 64×64×3 and batch 256 R's intermediates
        // together reach ~300 MB.
        if (h !== x) h.dispose();
        h = next;
      }
      return { output: h };
    },
    dispose() {
      tf.dispose(steps.flatMap(stepWeights));
    },
  };
}
