import * as tf from '@tensorflow/tfjs';
import { nativeUpsample } from './native-ops';

/**
 * ResizeNearestNeighborGrad, correct and fast. The cpu backend's (tfjs 4.22) is wrong for batch > 1: it reads dy
 * with the input's batch stride, so every image after the first gets another image's gradient and UpSampling2D
 * layers train on garbage; wasm's is right but a scalar loop. For whole-number upscaling without alignCorners (what
 * UpSampling2D does) each input pixel's gradient is the sum of its k×k output block, i.e. k² × an average pool
 * (XNNPACK on wasm), or one threaded pass on the compiled kernels; anything else runs the stock kernel one image at
 * a time, where both are right.
 */
export function resizeNearestNeighborGrad(stock: tf.KernelConfig, backendName: string): tf.KernelFunc {
  return (args) => {
    const { images, dy } = args.inputs as { images: tf.Tensor4D; dy: tf.Tensor4D };
    const { alignCorners } = args.attrs as unknown as { alignCorners: boolean };
    const [b, inH, inW] = images.shape;
    const [, outH, outW] = dy.shape;
    const kh = outH / inH;
    const kw = outW / inW;
    const native = backendName === 'wasm' ? nativeUpsample(args.backend, images.shape, dy.shape, dy, true, args.attrs as { alignCorners?: boolean }) : null;
    if (native) return native;
    if (!alignCorners && Number.isInteger(kh) && Number.isInteger(kw)) {
      return tf.tidy(() => tf.mul(tf.avgPool(dy, [kh, kw], [kh, kw], 'valid'), tf.scalar(kh * kw)));
    }
    if (b === 1) return stock.kernelFunc(args);
    return tf.tidy(() => {
      const perImage = tf.split(dy, b).map((dyOne, i) => {
        const imageOne = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]);
        return tf.engine().runKernel('ResizeNearestNeighborGrad', { images: imageOne, dy: dyOne }, args.attrs) as tf.Tensor;
      });
      return tf.concat(perImage, 0);
    });
  };
}
