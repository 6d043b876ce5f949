import * as fs from 'node:fs';
import * as path from 'node:path';
import { AloccError } from '../errors';
import { IMAGE_EXTENSIONS } from './image-format';

const IMAGE_NAME = new RegExp(`\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

/** Whether a file name has a picture extension alocc reads (any case). */
export function isImageName(name: string): boolean {
  return IMAGE_NAME.test(name);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A path found below a folder: a picture to read, or a file with another extension, only counted. */
interface Found {
  file: string;
  image: boolean;
}

/**
 * Walks one directory depth-first, entries in code-point order. Only one directory's listing is held at a time.
 * Symlinked directories are followed once: a link cycle is not re-entered. Anything named like a picture is
 * yielded as one, even a directory, a broken link or a link loop, so the reader reports it by name.
 */
async function* walkDirectory(dir: string, visited: Set<string>): AsyncGenerator<Found> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new AloccError(`${dir}: cannot list directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  entries.sort((a, b) => byName(a.name, b.name));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (isImageName(entry.name)) {
      yield { file: full, image: true };
      continue;
    }
    let isDir = entry.isDirectory();
    if (entry.isSymbolicLink()) isDir = (await fs.promises.stat(full).catch(() => undefined))?.isDirectory() ?? false;
    if (!isDir) {
      yield { file: full, image: false };
      continue;
    }
    const key = await directoryKey(full).catch(() => undefined);
    if (key === undefined || visited.has(key)) continue;
    visited.add(key);
    yield* walkDirectory(full, visited);
  }
}

async function directoryKey(dir: string): Promise<string> {
  const stat = await fs.promises.stat(dir);
  return `${stat.dev}:${stat.ino}`;
}

async function* walkFrom(dir: string, stat: fs.Stats): AsyncGenerator<Found> {
  yield* walkDirectory(dir, new Set([`${stat.dev}:${stat.ino}`]));
}

/**
 * The picture files named by command-line arguments (score): a file is yielded as given, whatever its extension
 * (the decoder reports what it really is); a directory yields every picture below it, recursively, in sorted
 * order; a path that does not exist is yielded too, so the caller reports it in its place.
 */
export async function* findImages(paths: string[]): AsyncGenerator<string> {
  for (const given of paths) {
    const stat = await fs.promises.stat(given).catch(() => undefined);
    if (!stat?.isDirectory()) {
      yield given;
      continue;
    }
    for await (const found of walkFrom(given, stat)) if (found.image) yield found.file;
  }
}

/** Every picture below `dir` (recursive, sorted), and how many files with other extensions were passed over. */
export async function listImages(dir: string): Promise<{ files: string[]; ignored: number }> {
  const stat = await fs.promises.stat(dir);
  const files: string[] = [];
  let ignored = 0;
  for await (const found of walkFrom(dir, stat)) {
    if (found.image) files.push(found.file);
    else ignored++;
  }
  return { files, ignored };
}
