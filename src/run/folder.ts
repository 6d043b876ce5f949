import * as fs from 'fs';
import * as path from 'path';
import { AloccError } from '../errors';
import { describeWriteError } from '../fsutil';

export const LOCK_FILE_NAME = '.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `runDir` for this process with an exclusive lock file holding its pid, so that two trainings (or a training
 * and an --overwrite) of one run cannot interleave their epochs or delete each other's checkpoints. A lock left by a
 * process that no longer runs (killed with SIGKILL, say) is taken over. Returns the release function.
 */
export function lockRun(runDir: string): () => void {
  const file = path.join(runDir, LOCK_FILE_NAME);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw describeWriteError(file, err);
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    } catch {
      // Released between our two calls: try again.
    }
    // Another process that took over the same stale lock a moment ago also counts as alive.
    if (attempt > 0 || (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))) {
      throw new AloccError(
        `${runDir} is being trained by process ${Number.isNaN(pid) ? '(unknown)' : pid}; wait for it to finish or stop it ` +
          `(if no such process is training, delete ${file})`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
  };
}

/** Empties `runDir` for a fresh run, keeping this process's lock. */
export function clearRunDir(runDir: string): void {
  for (const name of fs.readdirSync(runDir)) {
    if (name !== LOCK_FILE_NAME) fs.rmSync(path.join(runDir, name), { recursive: true, force: true });
  }
}

/**
 * Under the lock, what a killed process left behind: hidden temporary copies are deleted, and a folder that was moved
 * aside to be replaced (`.epoch-3.old-<pid>`) goes back to its name if the replacement never arrived.
 */
export function tidyRunDir(runDir: string): void {
  for (const name of fs.readdirSync(runDir)) {
    const m = /^\.(epoch-\d+|run\.json)\.(tmp|old)-\d+$/.exec(name); // only what training writes
    if (!m) continue;
    const target = path.join(runDir, m[1]);
    if (m[2] === 'old' && !fs.existsSync(target)) fs.renameSync(path.join(runDir, name), target);
    else fs.rmSync(path.join(runDir, name), { recursive: true, force: true });
  }
}
