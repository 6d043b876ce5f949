/**
 * A folder of the user's own pictures as training data: every picture below it, decoded the one way (decode.ts) as
 * photos (never inverted, never framed), quantised to bytes so 60,000 of them fit in memory.
 */
import * as fs from 'node:fs';
import { AloccError, UsageError } from '../errors';
import { DecodedImage, Preprocessing, decodeMany } from './decode';
import { IMAGE_EXTENSIONS, SUPPORTED_FORMATS } from './image-format';
import { listImages } from './files';
import { rgbToGrey } from './pixels';

export interface FolderOptions {
  size: number;
  /** 'auto': 3 if any picture has colour, else 1. */
  channels: 1 | 3 | 'auto';
  resize: Preprocessing['resize'];
  /** Train on the readable pictures and report the others instead of refusing. */
  skipBad?: boolean;
  /** Bad files named in the refusal before "and N more". */
  maxListed?: number;
  concurrency?: number;
}

export interface ImageFolder {
  /** count*size*size*channels bytes, HWC per image, each Math.round(value*255). */
  pixels: Uint8Array;
  count: number;
  channels: 1 | 3;
  /** The preprocessing every picture went through; scoring must use the same. */
  preprocessing: Preprocessing;
  /** The pictures in `pixels`, in order. */
  files: string[];
  /** Files below the folder whose extension is not a picture's. */
  ignored: number;
  /** Pictures that could not be read (only with skipBad). */
  skipped: SkippedFile[];
  converted: { resized: number; colourToGrey: number; greyToColour: number };
}

/** A training picture left out with --skip-bad, and why. */
export interface SkippedFile {
  file: string;
  why: string;
}

/** What was done to a folder's pictures to give them the run's shape. */
export interface FolderReport {
  /** Files below the folder whose extension is not an image format alocc reads. */
  ignoredFiles: number;
  skipped: SkippedFile[];
  resized: number;
  colourToGrey: number;
  greyToColour: number;
}

/** Folder pictures are photos: taken as they are, transparency on white (PHOTO_BACKGROUND). */
export function folderPreprocessing(size: number, channels: 1 | 3, resize: Preprocessing['resize']): Preprocessing {
  return { size, channels, resize, invert: 'never', fit: 'none' };
}

function checkFolder(dir: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`--data ${dir}: no such folder`);
  if (!stat.isDirectory()) throw new UsageError(`--data ${dir}: not a folder; give the folder that holds the training pictures`);
}

function refuseBad(dir: string, bad: { file: string; why: string }[], readable: number, maxListed: number): AloccError {
  const listed = bad.slice(0, maxListed).map((b) => b.why);
  const more = bad.length > maxListed ? `; and ${bad.length - maxListed} more` : '';
  const files = bad.length === 1 ? '1 file' : `${bad.length} files`;
  return new AloccError(
    `${dir}: ${files} cannot be read: ${listed.join('; ')}${more}. Fix or remove them, or pass --skip-bad to train on the other ${readable}`,
  );
}

/** Loads every picture below `dir`; see FolderOptions. Refuses an empty folder and, unless skipBad, any bad file. */
export async function loadImageFolder(dir: string, opts: FolderOptions): Promise<ImageFolder> {
  checkFolder(dir);
  const { files: found, ignored } = await listImages(dir);
  if (found.length === 0) {
    const others = ignored ? ` (${ignored} other files ignored)` : '';
    throw new AloccError(`${dir}: no pictures found${others}; alocc reads ${SUPPORTED_FORMATS} (.${IMAGE_EXTENSIONS.join(' .')})`);
  }
  const decodeChannels = opts.channels === 'auto' ? 3 : opts.channels;
  const per = opts.size * opts.size * decodeChannels;
  let pixels: Uint8Array = new Uint8Array(found.length * per);
  const files: string[] = [];
  const bad: { file: string; why: string }[] = [];
  const sources: Pick<DecodedImage, 'width' | 'height' | 'colour'>[] = [];
  const pre = folderPreprocessing(opts.size, decodeChannels, opts.resize);
  for await (const outcome of decodeMany(found, pre, { concurrency: opts.concurrency })) {
    if (outcome.error) {
      bad.push({ file: outcome.file, why: outcome.error.message });
      continue;
    }
    const { pixels: values, width, height, colour } = outcome.image;
    const base = files.length * per;
    for (let i = 0; i < per; i++) pixels[base + i] = Math.round(values[i] * 255);
    files.push(outcome.file);
    sources.push({ width, height, colour });
  }
  if (bad.length > 0 && !opts.skipBad) throw refuseBad(dir, bad, files.length, opts.maxListed ?? 10);
  if (files.length === 0) throw new AloccError(`${dir}: none of its ${found.length} pictures could be read; the first: ${bad[0].why}`);
  const count = files.length;
  pixels = pixels.subarray(0, count * per);
  const anyColour = sources.some((s) => s.colour);
  const channels: 1 | 3 = opts.channels === 'auto' ? (anyColour ? 3 : 1) : opts.channels;
  if (channels !== decodeChannels) pixels = rgbBytesToGrey(pixels);
  return {
    pixels,
    count,
    channels,
    preprocessing: folderPreprocessing(opts.size, channels, opts.resize),
    files,
    ignored,
    skipped: bad,
    converted: {
      resized: sources.filter((s) => s.width !== opts.size || s.height !== opts.size).length,
      colourToGrey: channels === 1 ? sources.filter((s) => s.colour).length : 0,
      greyToColour: channels === 3 ? sources.filter((s) => !s.colour).length : 0,
    },
  };
}

/**
 * RGB bytes → grey bytes through rgbToGrey, the conversion decodeImage applies: pictures without colour are stored
 * as their grey replicated, so this gives back exactly the grey a channels-1 decode stores.
 */
function rgbBytesToGrey(rgb: Uint8Array): Uint8Array {
  const grey = new Uint8Array(rgb.length / 3);
  for (let p = 0; p < grey.length; p++) grey[p] = Math.round(rgbToGrey(rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]));
  return grey;
}
