import { BackendChoice, describeBackend, selectBackend } from '../backend';
import { decodeMany } from '../data/decode';
import { findImages } from '../data/files';
import { NOVELTY_SCORE_LABELS, NoveltyScore, PreprocessingConfig } from '../config';
import { AloccError } from '../errors';
import { scoreImages } from '../score/scorer';
import { openRun, resolveRunDir, RunSelector } from '../run/open';

export interface ScoreOptions extends RunSelector {
  /** Picture files and folders (searched recursively for every picture format alocc reads). */
  paths: string[];
  /** Epoch to use instead of the one with the lowest validation reconstruction loss. */
  epoch?: number;
  /** 'auto' detects dark-on-light drawings; true/false forces. */
  invert: 'auto' | boolean;
  /** How a drawing is framed (MNIST-style runs); default: the run's own preprocessing. */
  fit?: PreprocessingConfig['fit'];
  json: boolean;
  backend: BackendChoice;
  out?: NodeJS.WritableStream;
  log?: NodeJS.WritableStream;
}

/** What `score` prints for one image. */
export interface ScoreResult {
  file: string;
  reconstructionLoss: number;
  dOfReconstruction: number;
  dOfInput: number;
  /** The run's novelty score (the verdict's) and its value: novel when it is above the threshold. */
  score: NoveltyScore;
  novelty: number;
  verdict: 'novel' | 'normal';
  threshold: number;
  inverted: boolean;
}

/** Images decoded and scored together: large enough to keep the backend busy, small enough to stream. */
const CHUNK = 256;

function formatResult(r: ScoreResult): string {
  const recon = r.score === 'bce' ? '' : `reconstruction loss ${r.reconstructionLoss.toFixed(5)}, `;
  return (
    `${r.file}: ${r.verdict} (${NOVELTY_SCORE_LABELS[r.score].replace(' (BCE)', '')} ${r.novelty.toFixed(5)} ` +
    `${r.verdict === 'novel' ? '>' : '<='} threshold ${r.threshold.toFixed(5)}; ` +
    `${recon}D(R(x)) ${r.dOfReconstruction.toFixed(4)}, D(x) ${r.dOfInput.toFixed(4)}${r.inverted ? '; inverted' : ''})`
  );
}

/**
 * `alocc score`: scores every PNG given (folders recursively), streaming results in chunks. A file that cannot be read
 * gets one line on stderr and the others are still scored; the returned count of failures sets the exit code.
 */
export async function score(opts: ScoreOptions): Promise<{ scored: number; failed: number }> {
  const out = opts.out ?? process.stdout;
  const log = opts.log ?? process.stderr;
  const backend = await selectBackend(opts.backend);
  if (!opts.json) log.write(describeBackend(backend) + '\n');
  const model = openRun(resolveRunDir(opts), { epoch: opts.epoch });
  const { threshold, score: scoreName } = model;
  const pre = { ...model.preprocessing, fit: opts.fit ?? model.preprocessing.fit };
  const overrides = opts.invert === 'auto' ? {} : { invert: opts.invert };
  const per = pre.size * pre.size * pre.channels;
  let scored = 0;
  let failed = 0;
  let files: string[] = [];
  let inverted: boolean[] = [];
  let pixels = new Float32Array(CHUNK * per);

  const flush = () => {
    if (files.length === 0) return;
    const s = scoreImages(model, pixels, files.length, pre);
    files.forEach((file, i) => {
      const result: ScoreResult = {
        file,
        reconstructionLoss: s.reconLoss[i],
        dOfReconstruction: s.dOfR[i],
        dOfInput: s.dOfX[i],
        score: scoreName,
        novelty: s.novelty[scoreName][i],
        verdict: s.novelty[scoreName][i] > threshold ? 'novel' : 'normal',
        threshold,
        inverted: inverted[i],
      };
      out.write((opts.json ? JSON.stringify(result) : formatResult(result)) + '\n');
    });
    scored += files.length;
    files = [];
    inverted = [];
    pixels = new Float32Array(CHUNK * per);
  };

  const fail = (file: string, why: string) => {
    failed++;
    if (opts.json) out.write(JSON.stringify({ file, error: why }) + '\n');
    log.write(`alocc: ${why}\n`);
  };

  try {
    for (const given of opts.paths) {
      let found = 0;
      for await (const outcome of decodeMany(findImages([given]), pre, { overrides })) {
        found++;
        if (outcome.error) {
          fail(outcome.file, outcome.error.message);
        } else {
          pixels.set(outcome.image.pixels, files.length * per);
          files.push(outcome.file);
          inverted.push(outcome.image.inverted);
        }
        if (files.length === CHUNK) flush();
      }
      // A folder named on the command line that holds no picture is worth a line too.
      if (found === 0) fail(given, `${given}: a folder with no pictures in it`);
    }
    flush();
  } finally {
    model.dispose();
  }
  if (scored + failed === 0) throw new AloccError(`no pictures found in ${opts.paths.join(', ')}`);
  return { scored, failed };
}
