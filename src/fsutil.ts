import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AloccError, firstLine } from './errors';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One line for a failed write, naming the path and what the user can do. */
export function describeWriteError(target: string, err: unknown): AloccError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOSPC' ? 'the disk is full; free some space'
    : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'it is not writable; choose another --checkpoint-dir or fix its permissions'
    : code === 'ENOTDIR' ? 'a parent of it is a file, not a folder'
    : firstLine(err);
  return new AloccError(`cannot write ${target}: ${hint}`);
}

/** Writes and fsyncs one file. */
function writeDurable(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the rename is still atomic there.
  }
}

/** Replaces `file` in one step: readers see the old content or the new, never a mix. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeDurable(tmp, data);
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw describeWriteError(file, err);
  }
}

/**
 * Replaces `file` in one step (a temporary file renamed over it) without waiting for the disk: for outputs a rerun
 * remakes that are written by the thousand (alocc score --maps: an fsync per overlay took 60 % of the run's time).
 * Throws the system's error; the caller words it.
 */
export function writeFileReplacing(file: string, data: Uint8Array | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes a folder of files so that `dir` appears whole or not at all: the files go into a hidden sibling folder that
 * is renamed into place. An older `dir` is replaced only after the new one is complete. Returns each file's SHA-256.
 */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): Record<string, string> {
  const parent = path.dirname(dir);
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}`);
  const old = path.join(parent, `.${path.basename(dir)}.old-${process.pid}`);
  const checksums: Record<string, string> = {};
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const [rel, data] of Object.entries(files)) {
      const target = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      writeDurable(target, data);
      checksums[rel] = sha256(typeof data === 'string' ? Buffer.from(data) : data);
    }
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fsyncDir(parent);
    fs.rmSync(old, { recursive: true, force: true });
    return checksums;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(dir) && fs.existsSync(old)) fs.renameSync(old, dir);
    throw describeWriteError(dir, err);
  }
}

/** Reads a file, turning "missing" and "is a folder" into one clear line. */
export function readFileOrExplain(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AloccError(`${what} ${file} is missing`);
    if (code === 'EISDIR') throw new AloccError(`${what} ${file} is a folder, not a file`);
    throw new AloccError(`cannot read ${what} ${file}: ${firstLine(err)}`);
  }
}
