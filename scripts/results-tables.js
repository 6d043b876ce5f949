#!/usr/bin/env node
/**
 * Writes the quality tables of docs/results.md from the sweep summaries in docs/research-data/seeds/, so that the
 * tables cannot drift from the data. Each table sits between `<!-- results-tables:NAME -->` and
 * `<!-- /results-tables:NAME -->`; the text around them is written by hand and left as it is.
 *
 *   npm run results-tables            rewrite the tables in docs/results.md
 *   npm run results-tables -- --check exit 1 if docs/results.md differs from what the data gives
 *
 * Numbers are formatted as alocc's own `eval --seeds` tables are (src/commands/eval-seeds.ts): four decimals,
 * mean ± sd over the seeds (sample sd), the mean row in bold.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const seedsDir = path.join(root, 'docs', 'research-data', 'seeds');
const target = path.join(root, 'docs', 'results.md');

/** The sweeps kept in docs/research-data/seeds/, oldest first: folder, what differs, the commit that recorded it. */
const SWEEPS = [
  { dir: 'sample-4096', what: 'memory: the stored sample of 4,096 training images; cell means, k = 5', commit: '1d677c6' },
  { dir: 'stock-batchnorm', what: 'memory: a coreset of 1,000; cell means, k = 5; stock wasm BatchNorm', commit: '94c54ba' },
  { dir: 'mean-cells-k5', what: 'the same, BatchNorm on the compiled kernels', commit: 'f45ba20' },
  { dir: '.', what: "**the default**: each cell's mean and maximum, k = 10", commit: 'afcd955' },
];
const FILES = { mnist: 'eval-all-seeds.json', fashion: 'eval-all-fashion-mnist-seeds.json' };

const read = (dir, set) => JSON.parse(fs.readFileSync(path.join(seedsDir, dir, FILES[set]), 'utf8'));
const fmt = (x, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const fmtMeanSd = (m) => (m.n > 1 ? `${fmt(m.mean)} ± ${fmt(m.sd)}` : fmt(m.mean));
const row = (cells) => `| ${cells.join(' | ')} |`;
const rule = (n) => `|${Array(n).fill('---').join('|')}|`;

/** Per class, every score over the seeds, the verdict and the baseline first, and the previous default's verdict. */
function perClassTable(set) {
  const s = read('.', set);
  const prev = read('mean-cells-k5', set);
  const label = (n) => s.scores.find((x) => x.name === n)?.label ?? n;
  const order = [s.verdict, s.baseline, ...s.scores.map((x) => x.name).filter((n) => n !== s.verdict && n !== s.baseline)];
  const header = ['class', 'epochs', ...order.map((n) => (n === s.verdict ? `${label(n)} (verdict)` : label(n))),
    'verdict − baseline', 'cell means, k = 5 (the previous default)'];
  const lines = [row(header), rule(header.length)];
  s.classes.forEach((c, i) => {
    const p = prev.classes[i];
    if (p.class !== c.class) throw new Error(`${set}: class ${c.class} against ${p.class} in mean-cells-k5`);
    lines.push(row([String(c.class), c.epochs.join(' '), ...order.map((n) => fmtMeanSd(c.auroc[n])),
      fmt(c.auroc[s.verdict].mean - c.auroc[s.baseline].mean), fmtMeanSd(p.auroc[prev.verdict])]));
  });
  lines.push(row(['mean', '', ...order.map((n) => `**${fmtMeanSd(s.mean[n])}**`),
    fmt(s.mean[s.verdict].mean - s.mean[s.baseline].mean), `**${fmtMeanSd(prev.mean[prev.verdict])}**`]));
  return lines.join('\n');
}

/** Each seed's ten-class mean of the verdict and the baseline, for both data sets. */
function seedTable() {
  const header = ['data set', 'score', ...read('.', 'mnist').seeds.map((s) => `seed ${s}`), 'mean ± sd'];
  const lines = [row(header), rule(header.length)];
  for (const [set, name] of [['mnist', 'MNIST'], ['fashion', 'Fashion-MNIST']]) {
    const s = read('.', set);
    for (const n of [s.verdict, s.baseline]) {
      const lab = s.scores.find((x) => x.name === n)?.label ?? n;
      lines.push(row([name, n === s.verdict ? `${lab} (verdict)` : lab, ...s.seedMeans[n].map((v) => fmt(v)), fmtMeanSd(s.mean[n])]));
    }
  }
  return lines.join('\n');
}

/** The ten-class means of every sweep kept, oldest first. */
function historyTable() {
  const header = ['sweep (folder in docs/research-data/seeds/)', 'recorded in', 'MNIST verdict', 'MNIST baseline', 'digits ahead',
    'Fashion-MNIST verdict', 'Fashion-MNIST baseline', 'classes ahead'];
  const lines = [row(header), rule(header.length)];
  for (const w of SWEEPS) {
    const m = read(w.dir, 'mnist');
    const f = read(w.dir, 'fashion');
    lines.push(row([`${w.dir === '.' ? '`seeds/`' : `\`${w.dir}/\``}: ${w.what}`, w.commit,
      fmtMeanSd(m.mean[m.verdict]), fmtMeanSd(m.mean[m.baseline]), `${m.classesAboveBaseline} of ${m.classes.length}`,
      fmtMeanSd(f.mean[f.verdict]), fmtMeanSd(f.mean[f.baseline]), `${f.classesAboveBaseline} of ${f.classes.length}`]));
  }
  return lines.join('\n');
}

const TABLES = { mnist: () => perClassTable('mnist'), fashion: () => perClassTable('fashion'), seeds: seedTable, history: historyTable };

function render(text) {
  let out = text;
  for (const [name, make] of Object.entries(TABLES)) {
    const open = `<!-- results-tables:${name} -->`;
    const close = `<!-- /results-tables:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`docs/results.md has no ${open} … ${close}`);
    out = out.slice(0, a + open.length) + '\n' + make() + '\n' + out.slice(b);
  }
  return out;
}

const before = fs.readFileSync(target, 'utf8');
const after = render(before);
if (process.argv.includes('--check')) {
  if (after !== before) {
    process.stderr.write('docs/results.md differs from docs/research-data/seeds/: run npm run results-tables\n');
    process.exit(1);
  }
} else if (after !== before) {
  fs.writeFileSync(target, after);
  process.stdout.write('docs/results.md: tables rewritten\n');
} else {
  process.stdout.write('docs/results.md: tables already match the data\n');
}
