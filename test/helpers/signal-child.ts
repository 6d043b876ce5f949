// A stand-in for a long job under watchInterrupts: after the first signal it takes 20 s to "finish" its unit of
// work, then exits 0; only an immediate exit on a second signal ends it sooner.
import { watchInterrupts } from '../../src/signals';

const interrupts = watchInterrupts('finishing');
process.stderr.write('ready\n');
const poll = setInterval(() => {
  if (interrupts.signal() === null) return;
  clearInterval(poll);
  process.stderr.write('finishing slowly\n');
  setTimeout(() => process.exit(0), 20_000);
}, 20);
