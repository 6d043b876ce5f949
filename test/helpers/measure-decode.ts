// Decodes one picture in a fresh process and prints the outcome, time and the process's peak RSS as JSON, so a
// test can check memory use without its own allocations getting in the way.
import { readImage } from '../../src/data/decode';

async function main(): Promise<void> {
  const file = process.argv[2];
  const start = process.hrtime.bigint();
  let message = '';
  let ok = false;
  try {
    await readImage(file, { size: 28, channels: 1, resize: 'contain', invert: 'auto', fit: 'auto' });
    ok = true;
  } catch (err) {
    message = `${(err as Error).name}: ${(err as Error).message}`;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ ok, message, ms, peakRssMb }) + '\n');
}
void main();
