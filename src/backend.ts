import { BackendChoice, BackendInfo } from './backend-choice';
import * as tf from '@tensorflow/tfjs';
import { AloccError, firstLine } from './errors';
import { nativeStatus, registerFastConvGradients } from './kernels';



const NATIVE = {
  gpu: { pkg: '@tensorflow/tfjs-node-gpu', hint: 'npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs CUDA 11.2 and cuDNN 8.1)' },
  node: { pkg: '@tensorflow/tfjs-node', hint: 'npm install @tensorflow/tfjs-node@4.22.0' },
} as const;

/** Loads a native binding; returns why not when it cannot. */
function tryNative(kind: 'gpu' | 'node'): string | null {
  const { pkg } = NATIVE[kind];
  try {
    require.resolve(pkg);
  } catch {
    return `${pkg} not installed`;
  }
  try {
    require(pkg);
    return null;
  } catch (err) {
    return `${pkg} failed to load: ${firstLine(err)}`;
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function activateWasm(): Promise<boolean> {
  require('@tensorflow/tfjs-backend-wasm');
  return activate('wasm');
}

/**
 * Selects and initialises a tfjs backend. `auto` prefers the native GPU binding, then the native CPU one, then wasm,
 * then the pure-JS cpu backend. On wasm and cpu the fast convolution-gradient kernels are registered; the native
 * backends keep their own kernels.
 */
export async function selectBackend(requested: BackendChoice): Promise<BackendInfo> {
  const skipped: string[] = [];
  let label: string | null = null;

  for (const kind of ['gpu', 'node'] as const) {
    if (label || (requested !== 'auto' && requested !== kind)) continue;
    const why = tryNative(kind);
    if (why === null && (await activate('tensorflow'))) {
      label = kind === 'gpu' ? 'gpu (tfjs-node-gpu)' : 'node (tfjs-node)';
    } else {
      const reason = why ?? `${NATIVE[kind].pkg} loaded but its backend did not initialise`;
      if (requested === kind) {
        throw new AloccError(`backend '${kind}' is not available: ${reason}; install it with: ${NATIVE[kind].hint}`);
      }
      skipped.push(`${reason} (to use it: ${NATIVE[kind].hint})`);
    }
  }
  if (!label && (requested === 'auto' || requested === 'wasm')) {
    if (await activateWasm()) label = 'wasm';
    else if (requested === 'wasm') throw new AloccError("backend 'wasm' failed to initialise; try --backend cpu");
    else skipped.push('wasm failed to initialise');
  }
  if (!label && (requested === 'auto' || requested === 'cpu')) {
    if (await activate('cpu')) {
      label = 'cpu';
      // The cpu backend's first write prints a banner recommending tfjs-node; our own backend line already says it.
      (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    }
  }
  if (!label) throw new AloccError(`no tfjs backend could be initialised (asked for '${requested}')`);

  const name = tf.getBackend();
  if (name === 'wasm' || name === 'cpu') registerFastConvGradients(name);
  if (name === 'wasm') {
    const native = nativeStatus();
    if (native.loaded) label = `wasm + compiled conv kernels (${native.threads} thread${native.threads === 1 ? '' : 's'}, ${native.isa ?? `${native.vectorWidth}-wide`})`;
    else skipped.push(`compiled conv kernels: ${native.reason} (convs run on wasm, several times slower)`);
  }
  return { requested, name, label, skipped };
}
