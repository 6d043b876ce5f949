import { describeBackend } from '../backend-choice';
import * as fs from 'fs';
import * as path from 'path';
import type { DetectorOptions } from '../api/detector';
import type { ScoreResult } from '../api/verdicts';
import { findImages } from '../data/files';
import { Shard, shardMember } from '../data/shard';
import { AloccError, firstLine, UsageError } from '../errors';
import { writeFileReplacing } from '../fsutil';
import { resolveRunDir, RunSelector } from '../run/select';
import { scoreTitle } from '../score/registry';


/** `alocc score`'s options: which run, the Detector's own options (epoch, backend, invert, fit, details), and what to score. */
export interface ScoreCommandOptions extends RunSelector, DetectorOptions {
  /** Picture files and folders (searched recursively for every picture format alocc reads). */
  paths: string[];
  /** Score only this shard of the pictures (see src/data/shard.ts). */
  shard?: Shard;
  json: boolean;
  /** Write each picture's anomaly-map overlay into this folder (`--maps DIR`), created if missing. */
  mapsDir?: string;
  out?: NodeJS.WritableStream;
  log?: NodeJS.WritableStream;
}

function formatResult(r: ScoreResult): string {
  const details: string[] = [];
  if (r.reconstructionLoss !== undefined && r.score !== 'bce') details.push(`reconstruction loss ${r.reconstructionLoss.toFixed(5)}`);
  if (r.dOfReconstruction !== undefined && r.dOfInput !== undefined) details.push(`D(R(x)) ${r.dOfReconstruction.toFixed(4)}, D(x) ${r.dOfInput.toFixed(4)}`);
  // The local score has its own threshold and verdict; the line's verdict stays the run's.
  if (r.local) details.push(`local score ${r.local.score.toFixed(5)} ${r.local.verdict === 'novel' ? '>' : '<='} ${r.local.threshold.toFixed(5)} (${r.local.verdict})`);
  return (
    `${r.file}: ${r.verdict} (${scoreTitle(r.score).replace(' (BCE)', '')} ${r.novelty.toFixed(5)} ` +
    `${r.verdict === 'novel' ? '>' : '<='} threshold ${r.threshold.toFixed(5)}` +
    `${details.length ? `; ${details.join(', ')}` : ''}${r.inverted ? '; inverted' : ''})`
  );
}

/** Why a folder or file cannot be written, in words, from the system's error. */
function writeFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent of it is a file, not a folder'
    : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'not writable'
    : code === 'ENOSPC' ? 'the disk is full'
    : firstLine(err);
}

/**
 * Makes sure `--maps DIR` can take the overlays before anything is scored: a folder (created if missing) where a
 * file can be written. A refusal is a usage error naming the folder and what to do.
 */
function prepareMapsDir(dir: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`--maps ${dir}: a file, not a folder; name a folder for the overlays (created if missing)`);
  }
  const probe = path.join(dir, `.alocc-write-probe-${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    throw new UsageError(`--maps ${dir}: cannot write overlays there (${writeFailure(err)}); choose another folder or fix its permissions`);
  }
}

/**
 * Where a picture's overlay goes in `dir`: its path below the working folder (else its absolute path without the
 * root), + '.map.png', so same-named pictures in different folders do not overwrite each other.
 */
export function overlayPathFor(dir: string, file: string): string {
  const absolute = path.resolve(file);
  const below = path.relative(process.cwd(), absolute);
  const rel = below.startsWith('..') || path.isAbsolute(below) ? absolute.slice(path.parse(absolute).root.length) : below;
  return path.join(dir, `${rel}.map.png`);
}

/**
 * `alocc score`: scores every picture given (folders recursively) through the library's Detector (on the compiled
 * kernels for a knn run without --details, else TensorFlow.js), streaming results
 * in chunks. A file that cannot be read gets one line on stderr and the others are still scored; the returned count
 * of failures sets the exit code.
 */
export async function score(opts: ScoreCommandOptions): Promise<{ scored: number; failed: number }> {
  const out = opts.out ?? process.stdout;
  const log = opts.log ?? process.stderr;
  // Loaded on demand: the compiled engine (knn, knnRotation) never loads TensorFlow.js (src/api/compiled-engine.ts).
  const { loadDetector } = await import('../api/detector');
  const mapsDir = opts.mapsDir;
  if (mapsDir !== undefined) prepareMapsDir(mapsDir); // before the run is loaded: a bad folder costs nothing
  const detector = await loadDetector(resolveRunDir(opts), { ...opts, maps: mapsDir !== undefined });
  if (!opts.json) log.write(describeBackend(detector.backend) + '\n');
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
    for await (const r of detector.scoreFiles(files(), { details: opts.details, map: mapsDir !== undefined })) {
      if ('error' in r) {
        fail(r.file, emptyFolders.has(r.file) ? `${r.file}: a folder with no pictures in it` : r.error);
        continue;
      }
      const { map, ...result } = r;
      let overlay: string | undefined;
      let unwritten: string | undefined;
      if (map && mapsDir !== undefined) {
        overlay = overlayPathFor(mapsDir, r.file);
        try {
          writeFileReplacing(overlay, map.overlayPng);
        } catch (err) {
          // The picture keeps its result and its cells; only the overlay is missing, said in one line, exit 1.
          unwritten = `${r.file}: cannot write its overlay ${overlay} (${writeFailure(err)}); its score and cells are still reported`;
          failed++;
          log.write(`alocc: ${unwritten}\n`);
          overlay = undefined;
        }
      }
      // The JSON line carries the map's numbers and the overlay's path, not its bytes.
      const mapLine = map && { cells: map.cells, cellThreshold: map.cellThreshold, ...(unwritten ? { error: unwritten } : { overlay }) };
      const line = opts.json
        ? JSON.stringify(map ? { ...result, map: mapLine } : result)
        : formatResult(r) + (overlay ? `; map ${overlay}` : unwritten ? '; map not written' : '');
      scored++;
      out.write(line + '\n');
    }
  } finally {
    detector.dispose();
  }
  if (scored + failed === 0 && !opts.shard) throw new AloccError(`no pictures found in ${opts.paths.join(', ')}`);
  if (opts.shard && !opts.json) log.write(`shard ${opts.shard.index}/${opts.shard.count}: ${scored + failed} of ${found} picture(s)\n`);
  return { scored, failed };
}
