/**
 * Which backend a command asks for and the line that names the one it got: apart from src/backend.ts, which loads
 * TensorFlow.js, so that the CLI's option parsing and a knn score (no tfjs) can use them.
 */
/** Where the tensors live (src/backend.ts): auto tries gpu, node, wasm, cpu in turn. */
export const BACKEND_CHOICES = ['auto', 'gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The backend a command runs on. */
export interface BackendInfo {
  /** What the user asked for. */
  requested: BackendChoice;
  /** tfjs backend name now active: 'tensorflow' (native, GPU or CPU build), 'wasm' or 'cpu'. */
  name: string;
  /** Human label: 'gpu (tfjs-node-gpu)', 'node (tfjs-node)', 'wasm', 'cpu'. */
  label: string;
  /** Why each native backend tried before this one was skipped. */
  skipped: string[];
}

/** The one stderr line that says which backend runs and why the native ones were skipped. */
export function describeBackend(info: BackendInfo): string {
  const why = info.skipped.length ? `; skipped: ${info.skipped.join('; ')}` : '';
  return `backend: ${info.label}${why}`;
}
