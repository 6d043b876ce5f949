import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { AloccError } from '../errors';

/**
 * Families tried in order. Skia draws nothing at all for text in a family it cannot resolve when the system has
 * no fonts, so the chart must name a family that really exists. DejaVu Sans comes with Debian's fonts-dejavu-core,
 * which is on the machines we run and test on; the others are the usual sans fonts elsewhere.
 */
const PREFERRED_FAMILIES = ['DejaVu Sans', 'Liberation Sans', 'Noto Sans', 'Arial', 'Helvetica', 'FreeSans', 'Roboto'];

/** Font files worth registering when no preferred family is known to Skia, best first. */
const PREFERRED_FILES = [/^DejaVuSans\.ttf$/i, /^LiberationSans-Regular\.ttf$/i, /^NotoSans-Regular\.[ot]tf$/i, /^Arial\.ttf$/i];

/** The environment variable that names a .ttf/.otf file to use when the system has no usable font. */
export const FONT_ENV_VAR = 'ALOCC_FONT';

export function defaultFontDirs(): string[] {
  return [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    path.join(os.homedir(), '.fonts'),
    path.join(os.homedir(), '.local/share/fonts'),
    '/System/Library/Fonts',
    '/Library/Fonts',
    'C:\\Windows\\Fonts',
  ];
}

/** The first preferred family among `available`, or null. */
export function choosePreferredFamily(available: string[]): string | null {
  const known = new Set(available.map((f) => f.toLowerCase()));
  return PREFERRED_FAMILIES.find((f) => known.has(f.toLowerCase())) ?? null;
}

/** Every .ttf/.otf under `dirs` (depth-limited), preferred file names first; missing directories are skipped. */
export function findFontFiles(dirs: string[], maxDepth = 4): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && depth < maxDepth) walk(full, depth + 1);
      else if (/\.(ttf|otf)$/i.test(e.name)) found.push(full);
    }
  };
  for (const d of dirs) walk(d, 0);
  const rank = (file: string): number => {
    const i = PREFERRED_FILES.findIndex((re) => re.test(path.basename(file)));
    return i < 0 ? PREFERRED_FILES.length : i;
  };
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** True when drawing text in `family` puts ink on the canvas (an unresolvable family draws nothing). */
export function familyDrawsText(family: string): boolean {
  const canvas = createCanvas(64, 32);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.font = `24px "${family}"`;
  ctx.fillText('Ag', 4, 26);
  const pixels = ctx.getImageData(0, 0, 64, 32).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
  return false;
}

export interface FontSources {
  /** Families Skia already knows (system fonts are loaded at start-up). */
  families: () => string[];
  /** A font file named by the user, e.g. from $ALOCC_FONT. */
  explicitFile?: string;
  /** Directories searched for .ttf/.otf files when no preferred family is known. */
  searchDirs: string[];
  /** Registers a font file; returns the family name it got, or null if the file is not a usable font. */
  register: (file: string) => string | null;
  drawsText: (family: string) => boolean;
}

const ALIAS = 'alocc-chart-font';

function registerWithSkia(file: string): string | null {
  return GlobalFonts.registerFromPath(file, ALIAS) ? ALIAS : null;
}

export function defaultFontSources(): FontSources {
  return {
    families: () => GlobalFonts.families.map((f) => f.family),
    explicitFile: process.env[FONT_ENV_VAR] || undefined,
    searchDirs: defaultFontDirs(),
    register: registerWithSkia,
    drawsText: familyDrawsText,
  };
}

/**
 * A font family that really draws text, registering one from a file if needed. Throws rather than let the chart
 * come out without title, labels or legend.
 */
export function resolveChartFontFamily(src: FontSources): string {
  if (src.explicitFile) {
    const family = fs.existsSync(src.explicitFile) ? src.register(src.explicitFile) : null;
    if (!family || !src.drawsText(family)) {
      throw new AloccError(`${FONT_ENV_VAR}=${src.explicitFile} is not a readable .ttf/.otf font; point it at a font file or unset it`);
    }
    return family;
  }
  const preferred = choosePreferredFamily(src.families());
  if (preferred && src.drawsText(preferred)) return preferred;
  for (const file of findFontFiles(src.searchDirs)) {
    const family = src.register(file);
    if (family && src.drawsText(family)) return family;
  }
  throw new AloccError(
    `no usable font found for the loss chart (searched ${src.searchDirs.join(', ')}); ` +
      `install one (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set ${FONT_ENV_VAR}=/path/to/font.ttf`,
  );
}

let cachedFamily: string | null = null;

/** resolveChartFontFamily with the real system, done once per process. */
export function chartFontFamily(): string {
  cachedFamily ??= resolveChartFontFamily(defaultFontSources());
  return cachedFamily;
}
