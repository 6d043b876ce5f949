/** Exit codes a user or script can rely on (see README "Exit codes"). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  sigint: 130,
  sigterm: 143,
} as const;

/**
 * What a refusal suggests doing, as facts (the kinds are src/run/advice.ts's); the CLI words it after the message
 * (src/commands/advice.ts), so that no layer below the commands spells a command line.
 */
export interface Advice {
  readonly kind: string;
}

/**
 * An error the user can act on: its message is one line naming the file or value and what went wrong, and `advice`
 * what to do where that is a command. The CLI prints only these (a stack trace only with --verbose) and exits with
 * `exitCode`.
 */
export class AloccError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.failure, readonly advice?: Advice) {
    super(message);
    this.name = 'AloccError';
  }
}

/** Bad command-line usage: exit code 2. */
export class UsageError extends AloccError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** The first line of any thrown value, for one-line reports. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0].trim() || (err instanceof Error ? err.name : 'unknown error');
}
