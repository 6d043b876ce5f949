/**
 * A trained run as a library object: load it once, score pictures many times. `alocc score` and `alocc serve` are
 * built on this; it prints nothing.
 */
import { readCellCalibration } from '../run/open-cells';
import type { CellCalibration } from '../score/cell-scale';
import * as fs from 'fs';
import * as path from 'path';
import type { BackendChoice, BackendInfo } from '../backend-choice';
import { PreprocessingConfig, NoveltyScore } from '../config';
import { DecodedImage, DecodeOverrides } from '../data/decode';
import { AloccError, firstLine } from '../errors';
import type { EvalReport } from '../eval/evaluate';
import { EpochRecord } from '../run/runfile';
import { preprocessingOf, RunAtEpoch, runAtEpoch, RunPreprocessing } from '../run/select';
import { compiledEngine } from './compiled-engine';
import type { Engine } from './engine';
import { attachOverlays, CellMap, RunMaps } from './maps';
import { OverlayPool, overlayPool, renderInline } from '../plot/overlay-pool';
import { decodeInput, ImageInput, inputName } from './input';
import { NamedImage, pixelsOf, ScoreFailure, scoreFileStream, ScoreResult, verdictOf } from './verdicts';

/** What to compute beyond the verdict, per call. */
export interface ScoreCallOptions {
  /**
   * Add R's reconstruction loss, D(R(x)) and D(x) to each result. A knn verdict needs only R's first block, so
   * without details R's decoder and D do not run (about 5× less arithmetic at 28×28). A detector loaded without
   * `details` on the compiled kernels refuses them.
   */
  details?: boolean;
  /**
   * Add each picture's anomaly map (`map`: its cells, the run's cell threshold and an overlay PNG) and its local score
   * (`local`: the mean of its largest cell distances, its threshold and verdict). The first call builds the memory's
   * cells and reads the epoch's cell calibration (src/api/maps.ts), on the compiled kernels where they are built
   * (whichever engine scores), else with TensorFlow.js.
   */
  map?: boolean;
}

/** A result with the network's input and R's reconstruction of it (size×size×channels, HWC, [0, 1]). */
export interface ScoreWithImages extends ScoreResult {
  input: Float32Array;
  reconstruction: Float32Array;
}

export interface DetectorOptions {
  /** The epoch to score with; default the run's best. */
  epoch?: number;
  /** The tfjs backend (see README "Backends"); default 'auto'. */
  backend?: BackendChoice;
  /** Force inverting dark-on-light drawings on or off; default 'auto' (the run's rule). */
  invert?: 'auto' | boolean;
  /** How drawings are framed; default the run's own. */
  fit?: PreprocessingConfig['fit'];
  /**
   * Results will carry details (R's loss, D's outputs, reconstructions): the detector runs TensorFlow.js. Without,
   * a knn run on backend 'auto' scores on the compiled kernels where they are built (no TensorFlow.js loaded).
   */
  details?: boolean;
  /**
   * Results will carry anomaly maps (`score(x, { map: true })`). Kept for callers that said so: maps no longer need
   * TensorFlow.js, and every detector makes them.
   */
  maps?: boolean;
}

export interface DetectorInfo {
  /** The run folder, for the library's caller; `alocc serve` shows clients `run` only. */
  runDir: string;
  /** The run's name (its folder's base name). */
  run: string;
  /** How pictures are prepared for the networks. */
  preprocessing: RunPreprocessing;
  epoch: number;
  bestEpoch: number | null;
  /** The verdict's score and the threshold it is compared with. */
  score: NoveltyScore;
  threshold: number;
  backend: string;
  /**
   * The epoch's cell calibration as training stored it (the local score's threshold, the maps' colour scale and cell
   * threshold), verified; null for a run trained before it was stored, whose maps derive one on the first map.
   */
  cells: CellCalibration | null;
  metrics: {
    /** Every novelty score's mean and 95th percentile on the run's held-out validation pictures at this epoch. */
    validation: EpochRecord['validation'];
    /** The run's latest `alocc eval` report (<run>/eval/report.json) without its examples, if there is one. */
    eval: Omit<EvalReport, 'examples'> | null;
  };
}


function latestEval(runDir: string): Omit<EvalReport, 'examples'> | null {
  const file = path.join(runDir, 'eval', 'report.json');
  if (!fs.existsSync(file)) return null;
  try {
    const { examples: _examples, ...report } = JSON.parse(fs.readFileSync(file, 'utf8')) as EvalReport;
    return report;
  } catch (err) {
    throw new AloccError(`${file}: not a readable eval report (${firstLine(err)}); run alocc eval again or delete it`);
  }
}

/**
 * Fewer overlays than this are drawn on the calling thread: a single picture or a small call never starts the worker,
 * whose start (40-65 ms on the built package, against about 0.5 ms an overlay at 28×28) is paid once per detector
 * and repaid by the chunks of a folder.
 */
const POOLED_OVERLAYS_MIN = 32;

/** The largest pixel buffer (floats) a detector keeps between chunks: 64 MB, a chunk of 256 pictures at 147×147×3. */
const REUSED_PIXELS_MAX = 16 * 1024 * 1024;

export class Detector {
  readonly info: DetectorInfo;
  private readonly overrides: DecodeOverrides;
  private readonly pre: RunPreprocessing;
  private disposed = false;
  /**
   * The last chunk's pixels, whose memory the next chunk that fits reuses: a fresh 12.6 MB buffer a chunk cost
   * 0.2 s of a 3.4 s profile of scoring a folder of 64×64 colour pictures in first touches (docs/performance.md). Kept up to
   * REUSED_PIXELS_MAX floats, so a service does not hold a huge chunk's memory.
   */
  private pixelBuffer?: Float32Array;
  /** The worker that draws streamed chunks' overlays, started by the first chunk that has enough of them. */
  private overlays?: OverlayPool;
  readonly backend: BackendInfo;

  constructor(at: RunAtEpoch, private readonly engine: Engine, opts: DetectorOptions) {
    const own = preprocessingOf(at.run.config);
    this.pre = { ...own, fit: opts.fit ?? own.fit };
    this.overrides = opts.invert === undefined || opts.invert === 'auto' ? {} : { invert: opts.invert };
    this.backend = engine.backend;
    this.info = {
      runDir: at.dir,
      run: path.basename(path.resolve(at.dir)),
      preprocessing: this.pre,
      epoch: at.epoch,
      bestEpoch: at.run.bestEpoch,
      score: at.run.config.train.noveltyScore,
      threshold: at.record.threshold,
      backend: engine.backend.label,
      cells: readCellCalibration(at),
      metrics: { validation: at.record.validation, eval: latestEval(at.dir) },
    };
  }

  /** Scores one picture, or each of an array (one forward pass for all); refusals throw one-line AloccErrors. */
  score(input: ImageInput, opts?: ScoreCallOptions & { name?: string }): Promise<ScoreResult>;
  score(inputs: ImageInput[], opts?: ScoreCallOptions & { names?: string[] }): Promise<ScoreResult[]>;
  async score(input: ImageInput | ImageInput[], opts: ScoreCallOptions & { name?: string; names?: string[] } = {}): Promise<ScoreResult | ScoreResult[]> {
    if (Array.isArray(input)) {
      const names = input.map((one, i) => inputName(one, opts.names?.[i], i));
      const images = await Promise.all(input.map((one, i) => this.decode(one, names[i])));
      return this.scoreDecoded(images.map((image, i) => ({ name: names[i], image })), { details: opts.details, map: opts.map });
    }
    const name = inputName(input, opts.name, undefined);
    return this.scoreDecoded([{ name, image: await this.decode(input, name) }], { details: opts.details, map: opts.map })[0];
  }

  /** Decodes a picture as this run prepares them (for callers that batch decoded pictures themselves). */
  decode(input: ImageInput, name: string): Promise<DecodedImage> {
    this.checkOpen();
    return decodeInput(input, name, this.pre, this.overrides);
  }

  /**
   * Scores decoded pictures in one pass; with `images`, each result also carries its input and R's reconstruction
   * (and the details, which come with it).
   */
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts?: ScoreCallOptions): ScoreResult[];
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts: ScoreCallOptions & { images: true }): ScoreWithImages[];
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts: ScoreCallOptions & { images?: boolean } = {}): ScoreResult[] | ScoreWithImages[] {
    const { results, maps } = this.scoreChunk(items, opts);
    if (maps) attachOverlays(results, maps, renderInline(maps.map((m) => m.overlay)));
    return results;
  }

  /** The verdicts of decoded pictures and, with `map`, their maps with the overlays not yet drawn. */
  private scoreChunk(items: NamedImage[], opts: ScoreCallOptions & { images?: boolean }): { results: ScoreResult[] | ScoreWithImages[]; maps?: CellMap[] } {
    this.checkOpen();
    const { size, channels } = this.pre;
    const per = size * size * channels;
    const { threshold, score } = this.info;
    const recon = opts.images ? new Float32Array(items.length * per) : undefined;
    const maps = opts.map ? this.runMaps() : undefined; // refused before any scoring
    const pixels = pixelsOf(items, per, this.pixelBuffer);
    if (pixels.length <= REUSED_PIXELS_MAX && pixels.length > (this.pixelBuffer?.length ?? 0)) this.pixelBuffer = pixels;
    const s = this.engine.score(pixels, items.length, { details: opts.details, reconstructions: recon, pooled: Boolean(maps) });
    const results = items.map((item, i) => {
      const result: ScoreResult = verdictOf(item, score, s.novelty[i], threshold);
      const d = s.details;
      if ((opts.details || recon) && d) Object.assign(result, { reconstructionLoss: d.reconLoss[i], dOfReconstruction: d.dOfR[i], dOfInput: d.dOfX[i] });
      if (!recon) return result;
      return { ...result, input: item.image.pixels, reconstruction: recon.slice(i * per, (i + 1) * per) };
    }) as ScoreResult[] | ScoreWithImages[];
    return maps ? { results, maps: maps.cellMaps(items, results, s.pooled) } : { results };
  }

  /**
   * A streamed chunk's results: with maps, the overlays are drawn by the overlay pool's worker while the caller
   * scores the next chunk (src/plot/overlay-pool.ts); a chunk too small to be worth a thread draws them here.
   */
  private async scoreStreamed(items: NamedImage[], opts: ScoreCallOptions): Promise<ScoreResult[]> {
    const { results, maps } = this.scoreChunk(items, opts);
    if (!maps) return results;
    const jobs = maps.map((m) => m.overlay);
    const pngs = jobs.length < POOLED_OVERLAYS_MIN ? renderInline(jobs) : await (this.overlays ??= overlayPool()).render(jobs);
    attachOverlays(results, maps, pngs);
    return results;
  }

  private runMaps(): RunMaps {
    const maps = this.engine.maps();
    if (!maps) {
      throw new AloccError(`${this.info.run}: the compiled kernels declined this run's first block, so they make no anomaly maps; load it with backend: 'wasm' (alocc score --backend wasm)`);
    }
    return maps;
  }

  /**
   * Scores picture files as they come, in chunks of SCORE_CHUNK (src/api/verdicts.ts): results in file order, a file
   * that cannot be read yielded at once as a failure; memory does not grow with the number of files.
   */
  scoreFiles(files: Iterable<string> | AsyncIterable<string>, opts: ScoreCallOptions & { concurrency?: number } = {}): AsyncGenerator<ScoreResult | ScoreFailure> {
    this.checkOpen();
    return scoreFileStream(files, this.pre, { concurrency: opts.concurrency, overrides: this.overrides }, (chunk) => this.scoreStreamed(chunk, { details: opts.details, map: opts.map }));
  }

  /** Frees the networks and the knn memory; the detector cannot score afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pixelBuffer = undefined;
    this.overlays?.dispose();
    this.engine.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new AloccError(`the detector of ${this.info.runDir} was disposed; load it again with loadDetector`);
  }
}

/**
 * Opens a run folder (its run file read once, every file verified against its checksums), ready to score: on the
 * compiled engine where it applies (a knn or knnRotation verdict, backend 'auto', no details or maps, the kernels built), else on
 * TensorFlow.js (loaded only then).
 */
export async function loadDetector(runDir: string, opts: DetectorOptions = {}): Promise<Detector> {
  const at = runAtEpoch(runDir, opts.epoch);
  const backend = opts.backend ?? 'auto';
  const compiled = backend === 'auto' && !opts.details ? compiledEngine(at) : null;
  const engine = compiled ?? (await (await import('./tfjs-engine')).tfjsEngine(at, backend));
  return new Detector(at, engine, opts);
}
