import type { BackendChoice } from '../backend';
import { findImages } from '../data/files';
import { Shard, shardMember } from '../data/shard';
import { PreprocessingConfig } from '../config';
import { scoreTitle } from '../score/registry';
import { AloccError } from '../errors';
import type { ScoreFailure, ScoreResult } from '../api/detector';
import { pixelsOf, scoreFileStream, verdictOf } from '../api/verdicts';
import { resolveRunDir, RunSelector } from '../run/select';
import { openKnnVerdict } from '../score/knn-verdict';

export type { ScoreResult } from '../api/detector';

export interface ScoreOptions extends RunSelector {
  /** Picture files and folders (searched recursively for every picture format alocc reads). */
  paths: string[];
  /** Epoch to use instead of the one with the lowest validation reconstruction loss. */
  epoch?: number;
  /** 'auto' detects dark-on-light drawings; true/false forces. */
  invert: 'auto' | boolean;
  /** How a drawing is framed (MNIST-style runs); default: the run's own preprocessing. */
  fit?: PreprocessingConfig['fit'];
  /** Score only this shard of the pictures (see src/data/shard.ts). */
  shard?: Shard;
  json: boolean;
  /** Add R's reconstruction loss, D(R(x)) and D(x) to each result (runs all of R and D). */
  details?: boolean;
  backend: BackendChoice;
  out?: NodeJS.WritableStream;
  log?: NodeJS.WritableStream;
}

/** What scores the files: the line saying what runs, the stream of results, and what frees it. */
interface Scorer {
  label: string;
  scoreFiles(files: AsyncIterable<string>): AsyncGenerator<ScoreResult | ScoreFailure>;
  dispose(): void;
}

/**
 * A knn run scored without --details and with the default backend runs on the compiled kernels alone
 * (src/score/knn-verdict.ts: no TensorFlow.js to load, nothing of R but its first block); anything else, or a machine
 * without the kernels, through the library's Detector.
 */
async function openScorer(opts: ScoreOptions): Promise<Scorer> {
  const dir = resolveRunDir(opts);
  const knn = !opts.details && opts.backend === 'auto' ? openKnnVerdict(dir, { epoch: opts.epoch }) : null;
  if (knn) {
    const pre = { ...knn.preprocessing, fit: opts.fit ?? knn.preprocessing.fit };
    const overrides = opts.invert === 'auto' ? {} : { invert: opts.invert };
    const per = pre.size * pre.size * pre.channels;
    return {
      label: `backend: ${knn.label}`,
      scoreFiles: (files) =>
        scoreFileStream(files, pre, { overrides }, (chunk) => {
          const novelty = knn.novelty(pixelsOf(chunk, per), chunk.length);
          return chunk.map((item, i) => verdictOf(item, 'knn', novelty[i], knn.threshold));
        }),
      dispose: () => {},
    };
  }
  const [{ loadDetector }, { describeBackend }] = await Promise.all([import('../api/detector'), import('../backend')]);
  const detector = await loadDetector(dir, { epoch: opts.epoch, backend: opts.backend, invert: opts.invert, fit: opts.fit });
  return {
    label: describeBackend(detector.backend),
    scoreFiles: (files) => detector.scoreFiles(files, { details: opts.details }),
    dispose: () => detector.dispose(),
  };
}

function formatResult(r: ScoreResult): string {
  const details: string[] = [];
  if (r.reconstructionLoss !== undefined && r.score !== 'bce') details.push(`reconstruction loss ${r.reconstructionLoss.toFixed(5)}`);
  if (r.dOfReconstruction !== undefined && r.dOfInput !== undefined) details.push(`D(R(x)) ${r.dOfReconstruction.toFixed(4)}, D(x) ${r.dOfInput.toFixed(4)}`);
  return (
    `${r.file}: ${r.verdict} (${scoreTitle(r.score).replace(' (BCE)', '')} ${r.novelty.toFixed(5)} ` +
    `${r.verdict === 'novel' ? '>' : '<='} threshold ${r.threshold.toFixed(5)}` +
    `${details.length ? `; ${details.join(', ')}` : ''}${r.inverted ? '; inverted' : ''})`
  );
}

/**
 * `alocc score`: scores every picture given (folders recursively) through the library's Detector, streaming results
 * in chunks. A file that cannot be read gets one line on stderr and the others are still scored; the returned count
 * of failures sets the exit code.
 */
export async function score(opts: ScoreOptions): Promise<{ scored: number; failed: number }> {
  const out = opts.out ?? process.stdout;
  const log = opts.log ?? process.stderr;
  const scorer = await openScorer(opts);
  if (!opts.json) log.write(scorer.label + '\n');
  let scored = 0;
  let failed = 0;
  let found = 0;
  const emptyFolders = new Set<string>();

  const fail = (file: string, why: string) => {
    failed++;
    if (opts.json) out.write(JSON.stringify({ file, error: why }) + '\n');
    log.write(`alocc: ${why}\n`);
  };

  // One stream over every path named, so pictures named one by one (a shell glob) are still scored in chunks.
  async function* files(): AsyncGenerator<string> {
    for (const given of opts.paths) {
      let here = 0;
      const inShard = opts.shard ? await shardMember(given, opts.shard) : () => true;
      for await (const file of findImages([given])) {
        here++;
        if (inShard(file)) yield file;
      }
      found += here;
      // A folder named on the command line that holds no picture is worth a line too, in its place: it goes
      // through the decoder, which refuses it, and its line is reworded below.
      if (here === 0) {
        emptyFolders.add(given);
        yield given;
      }
    }
  }

  try {
    for await (const r of scorer.scoreFiles(files())) {
      if ('error' in r) {
        fail(r.file, emptyFolders.has(r.file) ? `${r.file}: a folder with no pictures in it` : r.error);
      } else {
        scored++;
        out.write((opts.json ? JSON.stringify(r) : formatResult(r)) + '\n');
      }
    }
  } finally {
    scorer.dispose();
  }
  if (scored + failed === 0 && !opts.shard) throw new AloccError(`no pictures found in ${opts.paths.join(', ')}`);
  if (opts.shard && !opts.json) log.write(`shard ${opts.shard.index}/${opts.shard.count}: ${scored + failed} of ${found} picture(s)\n`);
  return { scored, failed };
}
