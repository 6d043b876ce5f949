/**
 * Preloaded into the `alocc serve` process by bench/serve-load.ts (`node --expose-gc --require <this, built>`): on
 * each IPC message it answers the process's memory as its parts, so the bench can tell which part grows. Nothing of
 * it is in the product: the server itself is unchanged.
 */
export interface MemoryParts {
  /** process.memoryUsage(), MiB. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** C++ objects bound to JS, Buffers' and ArrayBuffers' backing stores included. */
  external: number;
  arrayBuffers: number;
  /** The tfjs wasm module's linear memory (it only grows), MiB; 0 on other backends. */
  wasmHeap: number;
  tensors: number;
}

const MiB = 2 ** 20;

function parts(): MemoryParts {
  const m = process.memoryUsage();
  // Required late: the server loads tfjs itself, and this resolves to the same instance.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return {
    rss: m.rss / MiB,
    heapUsed: m.heapUsed / MiB,
    heapTotal: m.heapTotal / MiB,
    external: m.external / MiB,
    arrayBuffers: m.arrayBuffers / MiB,
    wasmHeap: (backend.wasm?.HEAPU8.length ?? 0) / MiB,
    tensors: tf.memory().numTensors,
  };
}

if (process.send) {
  process.on('message', (msg: { id: number; gc?: boolean }) => {
    // A full collection first, when asked, shows what the collector would give back.
    if (msg.gc) (globalThis as { gc?: () => void }).gc?.();
    process.send!({ id: msg.id, parts: parts() });
  });
  // The channel must not keep the server alive after SIGTERM has closed it.
  (process.channel as unknown as { unref(): void } | undefined)?.unref();
}
