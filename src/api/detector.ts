/**
 * A trained run as a library object: load it once, score pictures many times. `alocc score` and `alocc serve` are
 * built on this; it prints nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BackendChoice, BackendInfo, selectBackend } from '../backend';
import { PreprocessingConfig } from '../config';
import { NoveltyScore } from '../score/registry';
import { DecodedImage, DecodeOverrides } from '../data/decode';
import { NamedImage, pixelsOf, scoreFileStream, verdictOf } from './verdicts';
import { AloccError, firstLine } from '../errors';
import { EvalReport } from '../eval/evaluate';
import { openRun, OpenedRun, RunPreprocessing } from '../run/open';
import { EpochRecord } from '../run/runfile';
import { knnNovelty, scoreImages } from '../score/scorer';
import { decodeInput, ImageInput, inputName } from './input';

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
}

/** What to compute beyond the verdict. */
export interface ScoreOptions {
  /**
   * Add R's reconstruction loss, D(R(x)) and D(x) to each result. A knn verdict needs only R's first block, so
   * without details R's decoder and D do not run (about 5× less arithmetic at 28×28).
   */
  details?: boolean;
}

/** A picture that could not be scored: a `score --json` error line. */
export interface ScoreFailure {
  file: string;
  error: string;
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
}

export interface DetectorInfo {
  runDir: string;
  /** How pictures are prepared for the networks. */
  preprocessing: RunPreprocessing;
  epoch: number;
  bestEpoch: number | null;
  /** The verdict's score and the threshold it is compared with. */
  score: NoveltyScore;
  threshold: number;
  backend: string;
  metrics: {
    /** Every novelty score's mean and 95th percentile on the run's held-out validation pictures at this epoch. */
    validation: EpochRecord['validation'];
    /** The run's latest `alocc eval` report (<run>/eval/report.json) without its examples, if there is one. */
    eval: Omit<EvalReport, 'examples'> | null;
  };
}

export { SCORE_CHUNK } from './verdicts';

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

export class Detector {
  readonly info: DetectorInfo;
  private readonly overrides: DecodeOverrides;
  private readonly pre: RunPreprocessing;
  private disposed = false;

  constructor(private readonly run: OpenedRun, readonly backend: BackendInfo, opts: DetectorOptions) {
    this.pre = { ...run.preprocessing, fit: opts.fit ?? run.preprocessing.fit };
    this.overrides = opts.invert === undefined || opts.invert === 'auto' ? {} : { invert: opts.invert };
    this.info = {
      runDir: run.dir,
      preprocessing: this.pre,
      epoch: run.epoch,
      bestEpoch: run.run.bestEpoch,
      score: run.score,
      threshold: run.threshold,
      backend: backend.label,
      metrics: { validation: run.record.validation, eval: latestEval(run.dir) },
    };
  }

  /** Scores one picture, or each of an array (one forward pass for all); refusals throw one-line AloccErrors. */
  score(input: ImageInput, opts?: ScoreOptions & { name?: string }): Promise<ScoreResult>;
  score(inputs: ImageInput[], opts?: ScoreOptions & { names?: string[] }): Promise<ScoreResult[]>;
  async score(input: ImageInput | ImageInput[], opts: ScoreOptions & { name?: string; names?: string[] } = {}): Promise<ScoreResult | ScoreResult[]> {
    if (Array.isArray(input)) {
      const names = input.map((one, i) => inputName(one, opts.names?.[i], i));
      const images = await Promise.all(input.map((one, i) => this.decode(one, names[i])));
      return this.scoreDecoded(images.map((image, i) => ({ name: names[i], image })), { details: opts.details });
    }
    const name = inputName(input, opts.name, undefined);
    return this.scoreDecoded([{ name, image: await this.decode(input, name) }], { details: opts.details })[0];
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
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts?: ScoreOptions): ScoreResult[];
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts: ScoreOptions & { images: true }): ScoreWithImages[];
  scoreDecoded(items: { name: string; image: DecodedImage }[], opts: ScoreOptions & { images?: boolean } = {}): ScoreResult[] | ScoreWithImages[] {
    this.checkOpen();
    const { size, channels } = this.pre;
    const per = size * size * channels;
    const pixels = pixelsOf(items, per);
    const { threshold, score } = this.run;
    const verdict = (item: NamedImage, novelty: number) => verdictOf(item, score, novelty, threshold);
    if (score === 'knn' && !opts.details && !opts.images) {
      const knn = knnNovelty(this.run.memory, this.run.firstBlock(), pixels, items.length, this.pre);
      return items.map((item, i) => verdict(item, knn[i]));
    }
    const recon = opts.images ? new Float32Array(items.length * per) : undefined;
    const s = scoreImages(this.run, pixels, items.length, this.pre, undefined, recon);
    return items.map((item, i) => {
      const result: ScoreResult = { ...verdict(item, s.novelty[score][i]) };
      if (opts.details || recon) Object.assign(result, { reconstructionLoss: s.reconLoss[i], dOfReconstruction: s.dOfR[i], dOfInput: s.dOfX[i] });
      if (!recon) return result;
      return { ...result, input: item.image.pixels, reconstruction: recon.slice(i * per, (i + 1) * per) };
    }) as ScoreResult[] | ScoreWithImages[];
  }

  /**
   * Scores picture files as they come, in chunks of SCORE_CHUNK (src/api/verdicts.ts): results in file order, a file
   * that cannot be read yielded at once as a failure; memory does not grow with the number of files.
   */
  scoreFiles(files: Iterable<string> | AsyncIterable<string>, opts: ScoreOptions & { concurrency?: number } = {}): AsyncGenerator<ScoreResult | ScoreFailure> {
    this.checkOpen();
    return scoreFileStream(files, this.pre, { concurrency: opts.concurrency, overrides: this.overrides }, (chunk) => this.scoreDecoded(chunk, { details: opts.details }));
  }

  /** Frees the networks and the knn memory; the detector cannot score afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.run.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new AloccError(`the detector of ${this.run.dir} was disposed; load it again with loadDetector`);
  }
}

/** Opens a run folder (verifying every file against its checksums) on a backend, ready to score. */
export async function loadDetector(runDir: string, opts: DetectorOptions = {}): Promise<Detector> {
  const backend = await selectBackend(opts.backend ?? 'auto');
  return new Detector(openRun(runDir, { epoch: opts.epoch }), backend, opts);
}
