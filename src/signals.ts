import { EXIT } from './errors';

/**
 * Turns the first Ctrl-C or SIGTERM into a polite request (the caller finishes its unit of work and exits with
 * 130 / 143; `onFirst` hears of it at once) and the second into an immediate exit.
 */
export function watchInterrupts(message: string, onFirst?: (sig: NodeJS.Signals) => void): { signal(): NodeJS.Signals | null; dispose(): void } {
  let received: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    if (received) process.exit(code);
    received = sig;
    process.stderr.write(`\n${sig}: ${message} (again to quit at once)\n`);
    onFirst?.(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: () => received,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
