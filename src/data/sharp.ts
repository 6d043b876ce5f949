/**
 * sharp (libvips), loaded on first use: loading it costs ~110 ms CPU, which a cold `alocc score` of a plain PNG
 * (decoded by plain-png.ts) and `alocc --help` need not pay. Call it as sharp itself.
 */
import type Sharp from 'sharp';

let loaded: typeof Sharp | undefined;

function sharpModule(): typeof Sharp {
  if (!loaded) {
    loaded = require('sharp') as typeof Sharp;
    // Every image is decoded once: libvips' operation cache would only hold memory.
    loaded.cache(false);
  }
  return loaded;
}

export const sharp = ((...args: Parameters<typeof Sharp>) => sharpModule()(...args)) as (...args: Parameters<typeof Sharp>) => ReturnType<typeof Sharp>;
