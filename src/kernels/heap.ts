import * as tf from '@tensorflow/tfjs';

/** The wasm backend's parts the compiled kernels use: tensors live in its heap at a byte offset. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { HEAPF32: Float32Array };
  disposeData(dataId: tf.DataId): boolean;
}

/** Runs `op` into `out`; if the addon throws (out of memory, a refused operand), `out` is freed before rethrowing. */
export function into(backend: WasmHeapBackend, out: tf.TensorInfo, op: () => void): tf.TensorInfo {
  try {
    op();
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  }
  return out;
}

/** A tensor's place in the heap, in floats. */
export function offset(backend: WasmHeapBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset / 4;
}
