/**
 * A picture's result and verdict, and scoring a stream of picture files in chunks: the Detector's, whichever engine
 * scores (nothing here loads TensorFlow.js).
 */
import { DecodedImage, DecodeOverrides, decodeMany, DeferredImage } from '../data/decode';
import { largeFloats } from '../kernels/addon';
import type { RunPreprocessing } from '../run/select';
import type { NoveltyScore } from '../config';

/** One picture's result: exactly the fields of a `score --json` line. */
export interface ScoreResult {
  file: string;
  /** The run's novelty score (the verdict's) and its value: novel when it is above the threshold. */
  score: NoveltyScore;
  novelty: number;
  verdict: 'novel' | 'normal';
  threshold: number;
  inverted: boolean;
  /** With `details` (`score --details`, and always from `serve`): R's reconstruction loss, D(R(x)) and D(x). */
  reconstructionLoss?: number;
  dOfReconstruction?: number;
  dOfInput?: number;
  /** With `map`: the local score beside the verdict's (src/score/cell-calibration.ts). */
  local?: LocalVerdict;
  /** With `map`: the picture's anomaly map. */
  map?: ScoreMap;
}

/**
 * The local score: the mean of the picture's largest cell distances (the run's localTopK of them), against its own
 * threshold calibrated on the validation pictures. It reads a small defect that barely moves the global score.
 */
export interface LocalVerdict {
  score: number;
  threshold: number;
  verdict: 'novel' | 'normal';
}

/**
 * With `map`: where the picture is novel (src/api/maps.ts). `score --json` lines and `POST /score?map=1` carry
 * `overlay` (the PNG's path, or a data URL) in place of the bytes.
 */
export interface ScoreMap {
  /** Each cell's distance to the nearest memory cell at its position (rows × columns, 0 to 2). */
  cells: number[][];
  /** The run's cell threshold: a cell at or above it is outlined in the overlay. */
  cellThreshold: number;
  /** The picture with its map laid over it in the run's fixed colour scale, as PNG bytes. */
  overlayPng: Uint8Array;
}

/** A picture that could not be scored: a `score --json` error line. */
export interface ScoreFailure {
  file: string;
  error: string;
}

/** Pictures decoded and scored together when streaming files: large enough to keep the kernels busy. */
export const SCORE_CHUNK = 256;

/** A decoded picture and the name its result carries. */
export interface NamedImage {
  name: string;
  image: DecodedImage | DeferredImage;
}

/**
 * The pictures' pixels side by side, as the networks and kernels take a batch ([n, size, size, channels], HWC). A
 * chunk of 256 pictures at 64×64×3 is 12.6 MB: on huge pages (largeFloats), since its first touch in 4 KB pages cost
 * more than a tenth of scoring a folder (docs/performance.md).
 */
export function pixelsOf(items: NamedImage[], per: number, reuse?: Float32Array): Float32Array {
  const pixels = reuse && reuse.length >= items.length * per ? reuse.subarray(0, items.length * per) : largeFloats(items.length * per);
  // A deferred picture's floats are written here, the only place a streamed picture's floats are needed.
  items.forEach(({ image }, i) => ('writePixels' in image ? image.writePixels(pixels, i * per) : pixels.set(image.pixels, i * per)));
  return pixels;
}

/** The result for one picture: novel when its score is above the threshold. */
export function verdictOf(item: NamedImage, score: NoveltyScore, novelty: number, threshold: number): ScoreResult {
  return { file: item.name, score, novelty, verdict: novelty > threshold ? 'novel' : 'normal', threshold, inverted: item.image.inverted };
}

/**
 * Scores picture files as they come, decoding up to `concurrency` at once and scoring them in chunks of SCORE_CHUNK;
 * memory does not grow with the number of files. Results come in file order; a file that cannot be read is yielded
 * at once as a failure (ahead of the results of its chunk).
 */
export async function* scoreFileStream<T>(
  files: Iterable<string> | AsyncIterable<string>,
  pre: RunPreprocessing,
  opts: { concurrency?: number; overrides: DecodeOverrides },
  scoreChunk: (items: NamedImage[]) => T[] | Promise<T[]>,
): AsyncGenerator<T | ScoreFailure> {
  let chunk: NamedImage[] = [];
  // One chunk ahead: chunk k + 1 is scored (synchronously, in scoreChunk) before chunk k's results are awaited, so
  // work that scoreChunk leaves pending (the overlays a worker draws) overlaps the next chunk's scoring.
  let pending: T[] | Promise<T[]> | null = null;
  async function* advance(next: () => T[] | Promise<T[]>): AsyncGenerator<T> {
    let started: T[] | Promise<T[]>;
    try {
      started = next();
    } catch (err) {
      if (pending) yield* await pending; // the chunk before keeps its results
      pending = null;
      throw err;
    }
    // Marked handled now: it is awaited only after the next chunk, and a rejection meanwhile must not end the process.
    if (started instanceof Promise) started.catch(() => undefined);
    if (pending) yield* await pending;
    pending = started;
  }
  for await (const outcome of decodeMany(files, pre, { concurrency: opts.concurrency, overrides: opts.overrides, deferred: true })) {
    if (outcome.error) {
      yield { file: outcome.file, error: outcome.error.message };
      continue;
    }
    chunk.push({ name: outcome.file, image: outcome.image });
    if (chunk.length === SCORE_CHUNK) {
      const items = chunk;
      chunk = [];
      yield* advance(() => scoreChunk(items));
    }
  }
  if (chunk.length > 0) yield* advance(() => scoreChunk(chunk));
  const last = pending as T[] | Promise<T[]> | null;
  if (last) yield* await last;
}
