/**
 * `alocc serve` under load on loopback: `npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32]`.
 * Starts the built CLI (`npm run build` first) as its own process, posts MNIST test digits (PNG bodies, a different
 * picture each request) with autocannon, and reports throughput, latency percentiles, status codes, the batches the
 * service formed, and the server's RSS (from /proc) before and after a warm-up and after the run. Writes
 * bench/results/serve-load.json.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import autocannon from 'autocannon';
import { loadMnist } from '../src/data/mnist';
import { encodeGreyPng } from '../src/data/png';

const [runDir, requestsArg = '10000', connectionsArg = '32'] = process.argv.slice(2);
if (!runDir) {
  process.stderr.write('usage: npx tsx bench/serve-load.ts RUN_DIR [requests=10000] [connections=32]\n');
  process.exit(2);
}
const REQUESTS = Number(requestsArg);
const CONNECTIONS = Number(connectionsArg);
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
  const rss: Record<string, number> = { started: rssMiB(server.pid!) };
  const warm = await load(url, WARM_UP, bodies);
  rss.afterWarmUp = rssMiB(server.pid!);
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(server.pid!)), 500);
  const run = await load(url, REQUESTS, bodies);
  clearInterval(sampler);
  rss.after = rssMiB(server.pid!);
  const health = (await (await fetch(`${url}/healthz`)).json()) as { batches: unknown };
  server.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => server.on('close', resolve));
  const result = {
    date: new Date().toISOString(),
    runDir,
    backend: /backend: (.*)/.exec(log)?.[1],
    requests: REQUESTS,
    connections: CONNECTIONS,
    warmUp: { requests: WARM_UP, non2xx: warm.non2xx, errors: warm.errors },
    seconds: run.duration,
    requestsPerSecond: +(run['2xx'] / run.duration).toFixed(1),
    latencyMs: { p50: run.latency.p50, p90: run.latency.p90, p99: run.latency.p99, max: run.latency.max },
    status: { '2xx': run['2xx'], '4xx': run['4xx'], '5xx': run['5xx'], errors: run.errors, timeouts: run.timeouts },
    batches: health.batches,
    serverRssMiB: { ...rss, minDuringRun: Math.min(...samples), maxDuringRun: Math.max(...samples) },
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
