import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadMnist } from './mnist';
import { encodeGreyPng } from './grey-png';

/** The built CLI (`npm run build`), run as a user would. */
export const CLI = path.join(__dirname, '..', '..', 'dist', 'src', 'cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface CliOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Node's own arguments before the CLI's path, e.g. ['--require', a preload]. */
  nodeArgs?: string[];
}

/** The built CLI with `args`, as a user would run it; the one way tests spawn it. */
export function aloccWith(opts: CliOptions, ...args: string[]): CliResult {
  const started = Date.now();
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    cwd: opts.cwd,
    env: opts.env && { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

export function alocc(...args: string[]): CliResult {
  return aloccWith({}, ...args);
}

/**
 * Runs the CLI and, each time stderr first matches one of `triggers`' patterns, sends its signals; resolves when the
 * process ends. A trigger that never matches leaves the process to finish on its own (the test then fails on its code).
 */
export function aloccWithSignals(args: string[], triggers: SignalTrigger[]): Promise<CliResult> {
  return runWithSignals(process.execPath, [CLI, ...args], triggers);
}

export interface SignalTrigger {
  when: RegExp;
  /** Runs first, e.g. a second command while this one is busy. */
  run?: () => void;
  send: NodeJS.Signals[];
}

/** Runs `command`, sending each trigger's signals once its pattern first shows up on stderr (triggers in order). */
export function runWithSignals(command: string, args: string[], triggers: SignalTrigger[]): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const pending = [...triggers];
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      while (pending.length && pending[0].when.test(stderr)) {
        const trigger = pending.shift()!;
        try {
          trigger.run?.();
        } finally {
          for (const sig of trigger.send) child.kill(sig);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Writes the first `n` MNIST test images of `digit` as PNGs into `dir`; returns their paths. */
export function writeTestDigits(dir: string, digit: number, n: number, prefix = 'test'): string[] {
  const { images, labels, count } = loadMnist('test');
  const files: string[] = [];
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count && files.length < n; i++) {
    if (labels[i] !== digit) continue;
    const file = path.join(dir, `${prefix}-${digit}-${files.length}.png`);
    fs.writeFileSync(file, encodeGreyPng(images.subarray(i * 784, (i + 1) * 784), 28, 28));
    files.push(file);
  }
  return files;
}

/** No stack-trace lines: errors reach the user as one line. */
export const STACK_TRACE = /\n\s+at /;
