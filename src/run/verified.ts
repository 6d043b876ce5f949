/**
 * Reading a run's checkpoint files, each checked against the checksum the run file recorded and kept inside its
 * folder. No TensorFlow.js here: a knn verdict reads what it needs without loading it (src/score/knn-verdict.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { AloccError, firstLine } from '../errors';
import { readFileOrExplain, sha256 } from '../fsutil';

/**
 * Reads one checkpoint file after checking it against the checksum recorded in the run file, and that it stays inside
 * the checkpoint folder (no absolute paths, '..', URLs, or symlinks that lead out).
 */
export function refuseOutside(epochDir: string, rel: string): void {
  if (/^[a-z][a-z0-9+.-]*:/i.test(rel) || path.isAbsolute(rel) || path.win32.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    throw new AloccError(`checkpoint ${epochDir} refers to '${rel}', outside its folder; refusing to load it`);
  }
}

export function readVerified(epochDir: string, rel: string, checksums: Record<string, string>): Buffer {
  const file = checkedPath(epochDir, rel);
  const data = readFileOrExplain(file, 'checkpoint file');
  verifyChecksum(file, rel, data, checksums);
  return data;
}

/**
 * readVerified into `target` (which the file must fill exactly), for large files read straight where they are used:
 * the knn bank goes into the backend's memory without a fresh buffer of its own (on this machine, touching fresh
 * memory costs ~2.7 ms per MB). `describe` words a size mismatch.
 */
export function readVerifiedInto(epochDir: string, rel: string, checksums: Record<string, string>, target: Uint8Array, describe: (bytes: number) => string): void {
  const file = checkedPath(epochDir, rel);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    readFileOrExplain(file, 'checkpoint file'); // the same one-line refusals as readVerified
    throw new AloccError(`cannot read checkpoint file ${file}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size !== target.length) {
      // A file of another size is refused as readVerified would: corrupt first, when its checksum says so.
      verifyChecksum(file, rel, readFileOrExplain(file, 'checkpoint file'), checksums);
      throw new AloccError(describe(size));
    }
    for (let at = 0; at < size; ) {
      const n = fs.readSync(fd, target, at, size - at, at);
      if (n === 0) throw new AloccError(describe(at));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  verifyChecksum(file, rel, target, checksums);
}

/** `rel` inside `epochDir`, refusing paths and symlinks that lead out. */
function checkedPath(epochDir: string, rel: string): string {
  refuseOutside(epochDir, rel);
  const file = path.join(epochDir, rel);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    throw new AloccError(`checkpoint file ${file} is missing; retrain or pick another epoch with --epoch`);
  }
  const root = fs.realpathSync(epochDir);
  if (!real.startsWith(root + path.sep)) {
    throw new AloccError(`checkpoint file ${file} leads outside ${epochDir} (symlink); refusing to load it`);
  }
  return file;
}

function verifyChecksum(file: string, rel: string, data: Uint8Array, checksums: Record<string, string>): void {
  const expected = checksums[rel];
  if (!expected) throw new AloccError(`checkpoint file ${file} has no checksum in the run file; refusing to load it`);
  if (sha256(data) !== expected) {
    throw new AloccError(`checkpoint file ${file} is corrupt (checksum mismatch); retrain or pick another epoch with --epoch`);
  }
}

export function parseJson(data: Buffer, file: string): any {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new AloccError(`${file} is not valid JSON: ${firstLine(err)}`);
  }
}

/** One entry of a tfjs weights manifest: a tensor's name, shape and dtype, in the order the bytes follow. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/** A model folder's model.json (parsed) and its weights' specs and bytes, every file verified. */
export function readModelFiles(epochDir: string, sub: 'r' | 'd' | 'rotation', checksums: Record<string, string>): { jsonFile: string; json: any; specs: WeightSpec[]; data: Buffer } {
  const jsonFile = path.join(epochDir, sub, 'model.json');
  const json = parseJson(readVerified(epochDir, `${sub}/model.json`, checksums), jsonFile);
  const groups = json?.weightsManifest;
  if (!Array.isArray(groups) || groups.length === 0) throw new AloccError(`${jsonFile} has no weightsManifest`);
  const specs: WeightSpec[] = [];
  const buffers: Buffer[] = [];
  for (const g of groups) {
    if (!Array.isArray(g?.paths) || !Array.isArray(g?.weights)) throw new AloccError(`${jsonFile} has a malformed weightsManifest`);
    for (const p of g.paths) {
      if (typeof p !== 'string' || p === '') throw new AloccError(`${jsonFile} has a malformed weightsManifest`);
      // Checked as written: joining first would turn '/etc/x' into 'r/etc/x' and a URL into a plain name.
      refuseOutside(epochDir, p);
      buffers.push(readVerified(epochDir, path.posix.join(sub, p), checksums));
    }
    specs.push(...g.weights);
  }
  // One weights file (what alocc writes) is used as read: concatenating would copy it, and fresh memory is slow to touch.
  return { jsonFile, json, specs, data: buffers.length === 1 ? buffers[0] : Buffer.concat(buffers) };
}
