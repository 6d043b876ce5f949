import * as fs from 'node:fs';
import * as path from 'node:path';
import { AloccError } from '../errors';

const PNG_NAME = /\.png$/i;

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Walks one directory depth-first, entries in code-point order, yielding every *.png (any case). Only one
 * directory's listing is held at a time. Symlinked directories are followed once: a link cycle is not re-entered.
 */
async function* walkDirectory(dir: string, visited: Set<string>): AsyncGenerator<string> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new AloccError(`${dir}: cannot list directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  entries.sort((a, b) => byName(a.name, b.name));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await fs.promises.stat(full).catch(() => undefined);
      if (!target) {
        if (PNG_NAME.test(entry.name)) yield full; // dangling link named *.png: let the reader report it
        continue;
      }
      isDir = target.isDirectory();
      isFile = target.isFile();
    }
    if (isDir) {
      const key = await directoryKey(full).catch(() => undefined);
      if (key === undefined || visited.has(key)) continue;
      visited.add(key);
      yield* walkDirectory(full, visited);
    } else if (isFile && PNG_NAME.test(entry.name)) {
      yield full;
    }
  }
}

async function directoryKey(dir: string): Promise<string> {
  const stat = await fs.promises.stat(dir);
  return `${stat.dev}:${stat.ino}`;
}

/**
 * The image files named by command-line arguments: a file is yielded as given, whatever its extension (the
 * decoder reports what it really is); a directory yields every *.png below it, recursively, in sorted order;
 * a path that does not exist is yielded too, so the caller reports it in its place.
 */
export async function* findPngs(paths: string[]): AsyncGenerator<string> {
  for (const given of paths) {
    const stat = await fs.promises.stat(given).catch(() => undefined);
    if (stat?.isDirectory()) {
      yield* walkDirectory(given, new Set([`${stat.dev}:${stat.ino}`]));
    } else {
      yield given;
    }
  }
}
