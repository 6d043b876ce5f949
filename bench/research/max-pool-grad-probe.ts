/**
 * How much of the max pool's gradient stock tfjs-backend-wasm (4.22) passes on, against stock cpu: `npx tsx
 * bench/research/max-pool-grad-probe.ts`. The rotation net's 2×2 stride-2 'same' pools at its shapes (28×28 and
 * 32×32 inputs), dy all ones, x uniform on [lo, hi): the share of cpu's gradient mass that wasm's MaxPoolGrad keeps.
 * With x ≥ 0 it keeps all of it; a window whose four values are all negative gets none (docs/research.md, "The max
 * pool's gradient on wasm"). alocc's own kernels are not registered here: this is the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const SHAPES: [number, number][] = [[28, 8], [14, 16], [7, 32], [4, 64], [32, 8], [16, 16], [8, 32]];

function gradient(side: number, ch: number, lo: number, hi: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomUniform([16, side, side, ch], lo, hi, 'float32', 7) as tf.Tensor4D;
    const half = Math.ceil(side / 2);
    const dy = tf.ones([16, half, half, ch]);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'same'), dy)))(x).dataSync() as Float32Array;
  });
}

(async () => {
  for (const [lo, hi] of [[0, 1], [-1, 0.5]]) {
    for (const [side, ch] of SHAPES) {
      await tf.setBackend('cpu');
      const cpu = gradient(side, ch, lo, hi).reduce((a, b) => a + b, 0);
      await tf.setBackend('wasm');
      const wasm = gradient(side, ch, lo, hi).reduce((a, b) => a + b, 0);
      console.log(`x in [${lo}, ${hi}), ${side}×${side}×${ch}: gradient mass cpu ${cpu}, wasm ${wasm} (${((100 * wasm) / cpu).toFixed(1)} %)`);
    }
  }
})();
