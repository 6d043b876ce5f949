/** A BatchNorm layer's weights by name, as tfjs-layers saves them (γ and β absent when scale or center is off). */
export interface BatchNormWeights {
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  moving_mean: ArrayLike<number>;
  moving_variance: ArrayLike<number>;
}

/**
 * BatchNorm with its moving statistics folded into the conv before it: filter·s and (b − mean)·s + β, with
 * s = γ/√(var + ε) per output channel, computed in double and rounded once. The filter is HWIO (the output channel
 * last). One function for the folded networks (inference.ts) and the knn verdict without TensorFlow.js
 * (knn-verdict.ts), so both compute the same numbers.
 */
export function foldBatchNorm(filter: ArrayLike<number>, bias: ArrayLike<number>, bn: BatchNormWeights, epsilon: number): { filter: Float32Array; bias: Float32Array } {
  const channels = bias.length;
  const scale = new Float64Array(channels);
  const shift = new Float32Array(channels);
  // Plain loops: TypedArray.from with a mapping function ran ~100× slower here, cold (600 ms for R and D).
  for (let c = 0; c < channels; c++) {
    scale[c] = (bn.gamma ? bn.gamma[c] : 1) / Math.sqrt(bn.moving_variance[c] + epsilon);
    shift[c] = (bias[c] - bn.moving_mean[c]) * scale[c] + (bn.beta ? bn.beta[c] : 0);
  }
  const folded = new Float32Array(filter as ArrayLike<number>); // a typed array copied whole, not element by element
  for (let i = 0; i < folded.length; i += channels) for (let c = 0; c < channels; c++) folded[i + c] *= scale[c];
  return { filter: folded, bias: shift };
}
