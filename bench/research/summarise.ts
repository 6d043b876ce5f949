/**
 * Research scratch: turns the digit-<d>.json files of score-table.ts into markdown tables.
 * Usage: npx tsx bench/research/summarise.ts <dir> [score,score,...]
 * Table 1: AUROC per digit × score under the rule "epoch with the lowest validation BCE" (alocc's current rule).
 * Table 2: mean AUROC over digits per score × epoch rule. Rules that use no test label: last epoch, lowest validation
 * BCE, lowest validation mean of the score itself; 'oracle' (best epoch by test AUROC) is an upper bound only.
 */
import * as fs from 'fs';
import * as path from 'path';

interface Row { epoch: number; valReconLoss: number; valMean: Record<string, number>; auroc: Record<string, number> }
interface DigitResult { digit: number; totalSeconds: number; trainSeconds: number; rows: Row[] }

const dir = process.argv[2];
const results: DigitResult[] = fs.readdirSync(dir)
  .filter((f) => /^digit-\d\.json$/.test(f))
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
  .sort((a, b) => a.digit - b.digit);
const scores = process.argv[3]?.split(',') ?? Object.keys(results[0].rows[0].auroc);

const argmin = (rows: Row[], key: (r: Row) => number) => rows.reduce((b, r) => (key(r) < key(b) ? r : b));
const rules: Record<string, (rows: Row[], score: string) => Row> = {
  last: (rows) => rows[rows.length - 1],
  minValBce: (rows) => argmin(rows, (r) => r.valReconLoss),
  minValSelf: (rows, s) => (s.startsWith('rank') || s.startsWith('neg') ? argmin(rows, (r) => r.valReconLoss) : argmin(rows, (r) => r.valMean[s])),
  oracle: (rows, s) => argmin(rows, (r) => -r.auroc[s]),
};
const f3 = (v: number) => v.toFixed(3).replace(/^0/, '');
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

console.log(`${dir}: digits ${results.map((r) => r.digit).join(',')}; ${results[0].rows.length} epochs; ` +
  `seconds per digit ${results.map((r) => r.totalSeconds.toFixed(0)).join(' ')}\n`);
console.log(`AUROC per digit, epoch with the lowest validation BCE (epochs picked: ${results.map((r) => rules.minValBce(r.rows, '').epoch).join(' ')})\n`);
console.log(`| score | ${results.map((r) => r.digit).join(' | ')} | mean |`);
console.log(`|---|${results.map(() => '---').join('|')}|---|`);
for (const s of scores) {
  const v = results.map((r) => rules.minValBce(r.rows, s).auroc[s]);
  console.log(`| ${s} | ${v.map(f3).join(' | ')} | **${f3(mean(v))}** |`);
}
console.log(`\nMean AUROC over digits, by epoch rule (oracle uses test labels: an upper bound only)\n`);
console.log(`| score | ${Object.keys(rules).join(' | ')} | ${results[0].rows.map((r) => `epoch ${r.epoch}`).join(' | ')} |`);
console.log(`|---|${Object.keys(rules).map(() => '---').join('|')}|${results[0].rows.map(() => '---').join('|')}|`);
for (const s of scores) {
  const byRule = Object.values(rules).map((rule) => mean(results.map((r) => rule(r.rows, s).auroc[s])));
  const byEpoch = results[0].rows.map((_, k) => mean(results.map((r) => r.rows[k]?.auroc[s] ?? NaN)));
  console.log(`| ${s} | ${byRule.map(f3).join(' | ')} | ${byEpoch.map(f3).join(' | ')} |`);
}
