/**
 * Splitting a folder's pictures across machines: shard i of n holds the pictures whose path below the folder named
 * on the command line hashes to i. A file's shard depends only on that relative path, so every machine agrees
 * without talking to the others, wherever the folder is mounted, and adding files never moves the others.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

/** The largest shard count accepted: beyond it shards of real folders would mostly be empty. */
export const MAX_SHARDS = 100_000;

function wholeIn(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, not '${text}'`);
  return Number(text);
}

/** `--shard i/n` (0 ≤ i < n). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard must be i/n (0-based: --shard 0/4 is the first of four), not '${text}'`);
  const count = wholeIn(m[2], '--shard n', 1, MAX_SHARDS);
  const index = wholeIn(m[1], '--shard i', 0, count - 1);
  return { index, count };
}

/** `--shard-count n` with the index from an environment variable (Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX). */
export function shardFromEnv(countText: string, env: NodeJS.ProcessEnv = process.env, variable = 'JOB_COMPLETION_INDEX'): Shard {
  const count = wholeIn(countText, '--shard-count', 1, MAX_SHARDS);
  const value = env[variable];
  if (value === undefined || value === '') throw new UsageError(`--shard-count needs the shard index in $${variable} (a Kubernetes Indexed Job sets it); or give --shard i/n`);
  return { index: wholeIn(value, `$${variable}`, 0, count - 1), count };
}

/** The shard a picture belongs to, from its path relative to the folder named on the command line ('/'-separated). */
export function shardOf(relativePath: string, count: number): number {
  const digest = createHash('sha256').update(relativePath.split(path.sep).join('/')).digest();
  return digest.readUInt32BE(0) % count;
}

/**
 * Whether a picture found below `given` (a path named on the command line) is in the shard: a file named directly
 * counts by its base name, a picture below a named folder by its path relative to that folder.
 */
export async function shardMember(given: string, shard: Shard): Promise<(file: string) => boolean> {
  const isDir = (await fs.promises.stat(given).catch(() => undefined))?.isDirectory() ?? false;
  return (file) => shardOf(isDir ? path.relative(given, file) : path.basename(file), shard.count) === shard.index;
}
