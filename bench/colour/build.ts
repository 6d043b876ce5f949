/**
 * The colour benchmark: eight one-class tasks on 64×64 colour emoji drawn by two vendors.
 *
 *   npx tsx bench/colour/build.ts [--cache .bench/colour] [--out .bench/colour/tasks] [--split-seed 0]
 *
 * Fetches `emoji-datasource-google@16.0.0` and `emoji-datasource-twitter@16.0.0` with `npm pack` into the cache (never
 * into the project's dependencies), then lays out, for each CLDR group other than Flags and Component, a task folder
 * `<out>/<slug>/` with `train/` (the group's training emoji), `normal/` (its held-out emoji) and `novel/` (as many
 * pictures, drawn from the other seven groups' held-out emoji). Split by emoji, not by picture: both vendors' pictures
 * of an emoji fall on the same side (70 % of each group's emoji train, seeded). Skin-tone variants are left out: they
 * repeat one drawing in five tones and would make People & Body five times the size of the other groups.
 * Files are hard links (copies where linking fails) to the PNGs in the cache, named `<vendor>-<image>`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { deriveSeed, mulberry32, shuffleInPlace } from '../../src/data/random';

export const VENDORS = ['google', 'twitter'] as const;
export const VERSION = '16.0.0';
/** The eight groups, in CLDR order, with the folder names of their tasks. */
export const TASKS: ReadonlyArray<{ group: string; slug: string }> = [
  { group: 'Smileys & Emotion', slug: 'smileys' },
  { group: 'People & Body', slug: 'people' },
  { group: 'Animals & Nature', slug: 'animals' },
  { group: 'Food & Drink', slug: 'food' },
  { group: 'Travel & Places', slug: 'travel' },
  { group: 'Activities', slug: 'activities' },
  { group: 'Objects', slug: 'objects' },
  { group: 'Symbols', slug: 'symbols' },
];
const TRAIN_SHARE = 0.7;

interface Emoji {
  image: string;
  category: string;
  has_img_google: boolean;
  has_img_twitter: boolean;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** The vendor's package unpacked in the cache (fetched once). Returns its package folder. */
function unpacked(cache: string, vendor: string): string {
  const pkg = path.join(cache, vendor, 'package');
  if (fs.existsSync(path.join(pkg, 'emoji.json'))) return pkg;
  fs.mkdirSync(path.join(cache, vendor), { recursive: true });
  const name = `emoji-datasource-${vendor}@${VERSION}`;
  const tgz = execFileSync('npm', ['pack', name, '--silent', '--pack-destination', cache], { encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync('tar', ['xzf', path.join(cache, tgz), '-C', path.join(cache, vendor)]);
  return pkg;
}

function place(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

export function buildColourTasks(cache: string, out: string, splitSeed: number): void {
  const pkgs = Object.fromEntries(VENDORS.map((v) => [v, unpacked(cache, v)]));
  const emoji: Emoji[] = JSON.parse(fs.readFileSync(path.join(pkgs.google, 'emoji.json'), 'utf8'));
  const pictures = (e: Emoji): string[][] =>
    VENDORS.filter((v) => e[`has_img_${v}`]).map((v) => [path.join(pkgs[v], 'img', v, '64', e.image), `${v}-${e.image}`]);
  // One seeded split per group, by emoji.
  const split = new Map<string, { train: Emoji[]; test: Emoji[] }>();
  TASKS.forEach(({ group }, g) => {
    const members = emoji.filter((e) => e.category === group).sort((a, b) => a.image.localeCompare(b.image));
    shuffleInPlace(members, mulberry32(deriveSeed(splitSeed, g)));
    const nTrain = Math.round(members.length * TRAIN_SHARE);
    split.set(group, { train: members.slice(0, nTrain), test: members.slice(nTrain) });
  });
  fs.rmSync(out, { recursive: true, force: true });
  const summary: Record<string, { train: number; normal: number; novel: number }> = {};
  TASKS.forEach(({ group, slug }, g) => {
    const { train, test } = split.get(group)!;
    const dirs = Object.fromEntries(['train', 'normal', 'novel'].map((d) => [d, path.join(out, slug, d)]));
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    for (const e of train) for (const [from, name] of pictures(e)) place(from, path.join(dirs.train, name));
    const normal = test.flatMap(pictures);
    for (const [from, name] of normal) place(from, path.join(dirs.normal, name));
    const others = TASKS.filter((t) => t.group !== group).flatMap((t) => split.get(t.group)!.test.flatMap(pictures));
    others.sort((a, b) => a[1].localeCompare(b[1]));
    shuffleInPlace(others, mulberry32(deriveSeed(splitSeed, 100 + g)));
    const novel = others.slice(0, normal.length);
    for (const [from, name] of novel) place(from, path.join(dirs.novel, name));
    summary[slug] = { train: train.length * VENDORS.length, normal: normal.length, novel: novel.length };
  });
  fs.writeFileSync(path.join(out, 'tasks.json'), JSON.stringify({ version: VERSION, splitSeed, trainShare: TRAIN_SHARE, tasks: summary }, null, 2));
  for (const [slug, n] of Object.entries(summary)) console.log(`${slug.padEnd(11)} train ${n.train}  normal ${n.normal}  novel ${n.novel}`);
}

if (require.main === module) {
  const cache = arg('cache', '.bench/colour');
  buildColourTasks(cache, arg('out', path.join(cache, 'tasks')), Number(arg('split-seed', '0')));
}
