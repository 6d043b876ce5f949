/**
 * `alocc serve` under load on loopback: `npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32] [rounds=3]`.
 * Starts the built CLI (`npm run build` first) as its own process, posts MNIST test digits (PNG bodies, a different
 * picture each request) with autocannon: a 1,000-request warm-up, then `rounds` rounds of `requests` each. Reports per
 * round throughput, latency percentiles and status codes, the batches the service formed, and the server's RSS (from
 * /proc): at start, after the warm-up, after each round, and sampled every second throughout, so whether memory stays
 * flat after the warm-up shows as a series. Writes bench/results/serve-load.json; a line per round goes to stderr.
 * A run folder to serve: `node dist/src/cli.js train --digit 1 --epochs 1 --limit 600 --checkpoint-dir /tmp/ckpt`.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import autocannon from 'autocannon';
import { loadMnist } from '../src/data/mnist';
import { encodeGreyPng } from '../src/data/png';

const [runDir, requestsArg = '10000', connectionsArg = '32', roundsArg = '3'] = process.argv.slice(2);
if (!runDir) {
  process.stderr.write('usage: npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32] [rounds=3]\n');
  process.exit(2);
}
const REQUESTS = Number(requestsArg);
const CONNECTIONS = Number(connectionsArg);
const ROUNDS = Number(roundsArg);
const WARM_UP = 1000;
const CLI = path.join(__dirname, '..', 'dist', 'src', 'cli.js');

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
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
  const server = spawn(process.execPath, [CLI, 'serve', '--model', runDir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const series: { s: number; phase: string; rssMiB: number }[] = [];
  const sample = () => series.push({ s: Math.round((performance.now() - t0) / 1000), phase, rssMiB: +rssMiB(server.pid!).toFixed(1) });
  sample();
  const sampler = setInterval(sample, 1000);
  const rss = { started: rssMiB(server.pid!), afterWarmUp: 0, afterRounds: [] as number[] };
  phase = 'warm-up';
  const warm = await load(url, WARM_UP, bodies);
  rss.afterWarmUp = rssMiB(server.pid!);
  process.stderr.write(`RSS ${rss.started.toFixed(1)} MiB at start, ${rss.afterWarmUp.toFixed(1)} MiB after the warm-up\n`);
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    phase = `round ${round}`;
    const run = await load(url, REQUESTS, bodies);
    const after = rssMiB(server.pid!);
    rss.afterRounds.push(after);
    process.stderr.write(`round ${round}: ${run['2xx']} × 2xx, ${run.non2xx} other, ${run.errors} errors; RSS ${after.toFixed(1)} MiB after it\n`);
    rounds.push({
      round,
      seconds: run.duration,
      requestsPerSecond: +(run['2xx'] / run.duration).toFixed(1),
      latencyMs: { p50: run.latency.p50, p90: run.latency.p90, p99: run.latency.p99, max: run.latency.max },
      status: { '2xx': run['2xx'], '4xx': run['4xx'], '5xx': run['5xx'], errors: run.errors, timeouts: run.timeouts },
      rssAfterMiB: after,
    });
  }
  phase = 'idle';
  const health = (await (await fetch(`${url}/healthz`)).json()) as { batches: unknown };
  sample();
  clearInterval(sampler);
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => server.on('close', resolve));
  const afterWarmUp = series.filter((x) => x.phase.startsWith('round')).map((x) => x.rssMiB);
  const result = {
    date: new Date().toISOString(),
    runDir,
    backend: /backend: (.*)/.exec(log)?.[1],
    // Other work on the machine slows the server: the speed figures below are only as good as this is low.
    loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg(), cpus: os.cpus().length },
    requestsPerRound: REQUESTS,
    connections: CONNECTIONS,
    warmUp: { requests: WARM_UP, non2xx: warm.non2xx, errors: warm.errors },
    rounds,
    batches: health.batches,
    serverRssMiB: { ...rss, minDuringRounds: Math.min(...afterWarmUp), maxDuringRounds: Math.max(...afterWarmUp) },
    rssSeries: series,
    sigtermExitCode: code,
  };
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'serve-load.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
