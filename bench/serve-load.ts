/**
 * `alocc serve` under load on loopback:
 * `npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32] [rounds=3] [out=bench/results/serve-load.json]`.
 * Starts the built CLI (`npm run build` first) as its own process, posts MNIST test digits (PNG bodies, a different
 * picture each request) with autocannon: a 1,000-request warm-up, then `rounds` rounds of `requests` each. Reports per
 * round throughput, latency percentiles and status codes, the batches the service formed, and the server's memory:
 * RSS (from /proc) sampled every second throughout, with the JS heap, external memory, wasm heap and tensor count
 * (asked of serve-memory-probe.ts, preloaded into the server), and at start, after the warm-up and after each round
 * also RSS by kind of mapping; after the last round, the parts once more after a full collection. Whether memory
 * stays flat after the warm-up shows as a series, and which part moves. A line per round goes to stderr.
 * A run folder to serve: `node dist/src/cli.js train --digit 1 --epochs 1 --limit 600 --checkpoint-dir /tmp/ckpt`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import autocannon from 'autocannon';
import { loadMnist } from '../test/helpers/mnist';
import { encodeGreyPng } from '../test/helpers/grey-png';
import type { MemoryParts } from './serve-memory-probe';

const [runDir, requestsArg = '10000', connectionsArg = '32', roundsArg = '3', outArg] = process.argv.slice(2);
if (!runDir) {
  process.stderr.write('usage: npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32] [rounds=3] [out=bench/results/serve-load.json]\n');
  process.exit(2);
}
const REQUESTS = Number(requestsArg);
const CONNECTIONS = Number(connectionsArg);
const ROUNDS = Number(roundsArg);
const OUT = outArg ?? path.join(__dirname, 'results', 'serve-load.json');
/** Environment variables that change the server's allocator, recorded with the result. */
const ALLOCATOR_ENV = ['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_', 'LD_PRELOAD', 'UV_THREADPOOL_SIZE', 'VIPS_CONCURRENCY'];
const WARM_UP = 1000;
const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');
const PROBE = path.join(__dirname, '..', 'dist', 'bench', 'serve-memory-probe.js');

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/**
 * The server's resident memory by kind of mapping (/proc/PID/smaps), MiB: `brk` is glibc malloc's main arena, `anon`
 * every other anonymous mapping (V8's heap pages, the tfjs wasm memory, glibc's per-thread arenas, large mmapped
 * allocations), `files` code and data mapped from files (the kernel may drop these under memory pressure).
 */
function residentByKind(pid: number): { brk: number; anon: number; files: number } {
  const out = { brk: 0, anon: 0, files: 0 };
  let kind: keyof typeof out = 'anon';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      kind = head[1] === '[heap]' ? 'brk' : head[1].startsWith('/') ? 'files' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]) / 1024;
  }
  for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] = +out[k].toFixed(1);
  return out;
}

/** The first `n` MNIST test images as PNG files' bytes. */
function digits(n: number): Buffer[] {
  const { images } = loadMnist('test');
  return Array.from({ length: n }, (_, i) => encodeGreyPng(images.subarray(i * 784, (i + 1) * 784), 28, 28));
}

function load(url: string, amount: number, bodies: Buffer[]): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url: `${url}/score`,
    connections: CONNECTIONS,
    amount,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
}

async function main(): Promise<void> {
  const server = spawn(process.execPath, ['--expose-gc', '--require', PROBE, CLI, 'serve', '--model', runDir, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const replies = new Map<number, (p: MemoryParts) => void>();
  server.on('message', (m: { id: number; parts: MemoryParts }) => replies.get(m.id)?.(m.parts));
  let asked = 0;
  /** The server's memory by part (see serve-memory-probe.ts); after a full collection with `gc`. */
  const probe = (gc = false): Promise<MemoryParts> =>
    new Promise((resolve) => {
      const id = ++asked;
      replies.set(id, (p) => {
        replies.delete(id);
        resolve(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, +v.toFixed(1)])) as unknown as MemoryParts);
      });
      server.send({ id, gc });
    });
  /**
   * Everything measured at a phase's end: RSS by part and by mapping. With `gc`, also the parts after a full
   * collection, to show what the collector would give back; only after the last round, as forcing one earlier would
   * change what later rounds measure.
   */
  const snapshot = async (gc = false) => ({
    parts: await probe(),
    resident: residentByKind(server.pid!),
    ...(gc ? { afterFullGc: await probe(true) } : {}),
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr!.on('data', (d) => {
      log += d;
      const m = / on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    server.on('close', () => reject(new Error(`serve exited: ${log}`)));
  });
  const bodies = digits(1000);
  const t0 = performance.now();
  const loadAverageAtStart = os.loadavg();
  // One sample a second from the start to SIGTERM, each labelled with the phase it fell in.
  let phase = 'idle';
  const series: ({ s: number; phase: string; rssMiB: number } & Partial<MemoryParts>)[] = [];
  const sample = async () => {
    const at = { s: Math.round((performance.now() - t0) / 1000), phase, rssMiB: +rssMiB(server.pid!).toFixed(1) };
    const { heapUsed, external, wasmHeap, tensors } = await probe();
    series.push({ ...at, heapUsed, external, wasmHeap, tensors });
  };
  await sample();
  const sampler = setInterval(() => void sample(), 1000);
  const started = await snapshot();
  phase = 'warm-up';
  const warm = await load(url, WARM_UP, bodies);
  const afterWarmUp = await snapshot();
  process.stderr.write(`RSS ${started.parts.rss} MiB at start, ${afterWarmUp.parts.rss} MiB after the warm-up: ${JSON.stringify(afterWarmUp)}\n`);
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    phase = `round ${round}`;
    const run = await load(url, REQUESTS, bodies);
    const after = await snapshot(round === ROUNDS);
    process.stderr.write(`round ${round}: ${run['2xx']} × 2xx, ${run.non2xx} other, ${run.errors} errors; after it ${JSON.stringify(after)}\n`);
    rounds.push({
      round,
      seconds: run.duration,
      requestsPerSecond: +(run['2xx'] / run.duration).toFixed(1),
      latencyMs: { p50: run.latency.p50, p90: run.latency.p90, p99: run.latency.p99, max: run.latency.max },
      status: { '2xx': run['2xx'], '4xx': run['4xx'], '5xx': run['5xx'], errors: run.errors, timeouts: run.timeouts },
      memoryAfterMiB: after,
    });
  }
  phase = 'idle';
  const health = (await (await fetch(`${url}/healthz`)).json()) as { batches: unknown };
  clearInterval(sampler);
  await sample();
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => server.on('close', resolve));
  const duringRounds = series.filter((x) => x.phase.startsWith('round')).map((x) => x.rssMiB);
  const result = {
    date: new Date().toISOString(),
    runDir,
    backend: /backend: (.*)/.exec(log)?.[1],
    // What the server inherited that changes how its memory behaves.
    environment: Object.fromEntries(ALLOCATOR_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
    // Other work on the machine slows the server: the speed figures below are only as good as this is low.
    loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg(), cpus: os.cpus().length },
    requestsPerRound: REQUESTS,
    connections: CONNECTIONS,
    warmUp: { requests: WARM_UP, non2xx: warm.non2xx, errors: warm.errors },
    rounds,
    batches: health.batches,
    memoryMiB: { started, afterWarmUp },
    serverRssMiB: {
      started: started.parts.rss,
      afterWarmUp: afterWarmUp.parts.rss,
      afterRounds: rounds.map((r) => r.memoryAfterMiB.parts.rss),
      minDuringRounds: Math.min(...duringRounds),
      maxDuringRounds: Math.max(...duringRounds),
    },
    rssSeries: '@series',
    sigtermExitCode: code,
  };
  // The series one sample a line.
  const text = JSON.stringify(result, null, 2).replace('"@series"', `[\n${series.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`);
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, text + '\n');
  process.stdout.write(`${OUT}: RSS after the warm-up ${afterWarmUp.parts.rss} MiB, after each round ${result.serverRssMiB.afterRounds.join(', ')} MiB\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
