/**
 * The CLI's words for what to do next: every "alocc train …" the CLI suggests is spelt here, from the facts a refusal
 * carries (src/run/advice.ts). The layers below say what is wrong; this says which command fixes it.
 */
import * as path from 'path';
import { DataConfig, DEFAULT_TRAIN_CONFIG, RunConfig, TrainConfig } from '../config';
import { AloccError, firstLine } from '../errors';
import type { RunAdvice } from '../run/advice';
import { dataOfRunName, defaultRunName } from '../run/paths';

/** The command-line option of each setting the CLI can change. */
const OPTION_OF: Partial<Record<keyof TrainConfig, string>> = {
  batchSize: '--batch-size',
  rAlpha: '--r-alpha',
  learningRate: '--lr',
  noiseStd: '--noise-std',
  seed: '--seed',
  limit: '--limit',
  noveltyScore: '--score',
  bce: '--bce',
  neighbours: '--neighbours',
  cellPooling: '--cell-pooling',
  batchNormStatistics: '--batchnorm-statistics',
  memorySize: '--memory-size',
  memoryCoreset: '--memory-coreset',
  rotationPasses: '--rotation-passes',
  rotationFilters: '--rotation-filters',
  rotationAugment: '--rotation-augment',
  rotationCap: '--rotation-cap',
};

const quote = (s: string) => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The options that name a run's data, as typed. */
function dataOptions(data: DataConfig, name: string): string[] {
  const named = name === defaultRunName(data) ? [] : ['--name', quote(name)];
  if (data.source === 'mnist') return ['--digit', String(data.class), ...named];
  if (data.source === 'fashion-mnist') return ['--dataset fashion-mnist --class', String(data.class), ...named];
  return ['--data', quote(data.folder!), ...named];
}

/** The command that continues a run: it repeats every setting that is not the default, as --resume demands. */
export function resumeCommand(cfg: RunConfig, name: string, checkpointDir: string): string {
  const train = cfg.train;
  const parts = ['alocc train', ...dataOptions(cfg.data, name), '--resume --epochs', String(train.epochs)];
  for (const [key, option] of Object.entries(OPTION_OF) as [keyof TrainConfig, string][]) {
    if (train[key] !== DEFAULT_TRAIN_CONFIG[key]) parts.push(option, String(train[key]));
  }
  if (path.resolve(checkpointDir) !== path.resolve('checkpoints')) {
    parts.push('--checkpoint-dir', quote(checkpointDir));
  }
  return parts.join(' ');
}

/** ' --checkpoint-dir DIR' for the folder holding `runDir`, or nothing where that is the default. */
function checkpointDirFlag(runDir: string): string {
  const dir = path.dirname(runDir);
  return path.resolve(dir) === path.resolve('checkpoints') ? '' : ` --checkpoint-dir ${dir}`;
}

/** 'retrain it with: alocc train …' for an older run, from its own config where it says what it trained on. */
function retrainCommand(runDir: string, data: Extract<RunAdvice, { kind: 'retrain' }>['data']): string {
  const name = path.basename(path.resolve(runDir));
  const where = checkpointDirFlag(runDir);
  const cls = Number.isInteger(data?.class) ? String(data!.class) : '<c>';
  const source =
    data?.source === 'mnist' ? `--digit ${cls}` :
    data?.source === 'fashion-mnist' ? `--dataset fashion-mnist --class ${cls}` :
    `--data ${typeof data?.folder === 'string' ? data.folder : '<folder>'}`;
  const builtIn = data?.source === 'mnist' ? 'mnist' : 'fashion-mnist';
  const named = data?.source === 'folder' || name !== defaultRunName({ source: builtIn, class: Number.isInteger(data?.class) ? (data!.class as number) : NaN, folder: null });
  return `retrain it with: alocc train ${source}${named ? ` --name ${name}` : ''}${where} --overwrite`;
}

/** "create one with: alocc train ..." for a run folder that has no run yet, guessed from its name. */
function howToTrain(runDir: string): string {
  const name = path.basename(path.resolve(runDir));
  const data = dataOfRunName(name);
  const where = checkpointDirFlag(runDir);
  if (data) return `create one with: alocc train ${dataOptions(data, name).join(' ')}${where}`;
  return `create one with: alocc train --data <folder> --name ${name}${where}`;
}

/** What follows a refusal's message: the command that does what the advice says, with its lead-in. */
export function adviceText(advice: RunAdvice): string {
  switch (advice.kind) {
    case 'create':
      return `; ${howToTrain(advice.runDir)}`;
    case 'first-run':
      return '; train one with: alocc train --digit 1 (or --data <folder>)';
    case 'finish':
      return '; finish its training with --resume (alocc train ... --resume)';
    case 'retrain-0.1': {
      const name = path.basename(path.resolve(advice.runDir));
      const named = name === defaultRunName({ source: 'mnist', class: advice.digit ?? NaN, folder: null }) ? '' : ` --name ${name}`;
      return `; retrain it with: alocc train --digit ${advice.digit ?? '<d>'} --overwrite${named}`;
    }
    case 'retrain':
      return `; ${retrainCommand(advice.runDir, advice.data)}`;
    case 'start':
      return `; start with: alocc train ${dataOptions(advice.data, advice.name).join(' ')}`;
    case 'resume': {
      const differences = (advice.differences ?? []).map((d) => {
        const key = d.split(' ')[0] as keyof TrainConfig;
        return OPTION_OF[key] ? OPTION_OF[key] + d.slice(key.length) : d;
      });
      const command = resumeCommand(advice.config, advice.name, advice.checkpointDir);
      if (advice.interrupted) return `; continue with: ${command}`;
      return `${differences.length ? `: ${differences.join(', ')}` : ''}; continue it with: ${command}, or start over with --overwrite`;
    }
  }
}

/** The line the CLI prints for a thrown value: an AloccError's message and its advice, else the first line. */
export function explain(err: unknown): string {
  if (!(err instanceof AloccError)) return firstLine(err);
  return err.advice ? err.message + adviceText(err.advice as RunAdvice) : err.message;
}
