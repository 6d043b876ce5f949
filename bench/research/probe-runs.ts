/**
 * What the research probes share: `npx tsx bench/research/<probe>.ts CHECKPOINT_DIR` runs `probe` on every run of a
 * built-in data set in the folder (folder-trained runs have no labelled test set), prints each run's row of AUROCs
 * and writes them all to <probe>.json beside the runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend } from '../../src/backend';
import { readRun } from '../../src/run/select';
import { runFilePath } from '../../src/run/paths';

type RunFile = ReturnType<typeof readRun>;

async function probeRuns(script: string, probe: (runDir: string, run: RunFile) => Record<string, number> | Promise<Record<string, number>>): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error(`usage: ${script}.ts CHECKPOINT_DIR`);
  await selectBackend('wasm');
  const results: Record<string, Record<string, number>> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const runDir = path.join(dir, name);
    if (!fs.existsSync(runFilePath(runDir))) continue;
    const run = readRun(runDir);
    if (run.config.data.source === 'folder') continue;
    const row = await probe(runDir, run);
    results[name] = row;
    console.log(name, JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Math.round(v * 10000) / 10000]))));
  }
  fs.writeFileSync(path.join(dir, `${script}.json`), JSON.stringify(results, null, 2));
}

/** Runs the probe over the folder named on the command line; a failure prints and exits 1. */
export function runProbe(script: string, probe: (runDir: string, run: RunFile) => Record<string, number> | Promise<Record<string, number>>): void {
  probeRuns(script, probe).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
