/**
 * What a refusal about a run suggests doing, as facts: src/commands/advice.ts turns each into the command line the
 * CLI prints after the refusal's message.
 */
import { DataConfig, RunConfig } from '../config';
import { AloccError, EXIT } from '../errors';

export type RunAdvice =
  /** A run folder with no run in it: train one, guessed from the folder's name. */
  | { kind: 'create'; runDir: string }
  /** No run at all in the checkpoint folder: train a first one. */
  | { kind: 'first-run' }
  /** A run with no complete epoch: finish it with --resume. */
  | { kind: 'finish' }
  /** A run of alocc 0.1 (run file version 1): retrain the digit it names (null: unknown). */
  | { kind: 'retrain-0.1'; runDir: string; digit: number | null }
  /** A run file of version 2: retrain from what its own config says it trained on. */
  | { kind: 'retrain'; runDir: string; data?: { source?: unknown; class?: unknown; folder?: unknown } }
  /** --resume with no run: start it. */
  | { kind: 'start'; data: DataConfig; name: string }
  /**
   * Continue the run (`config`, whose epochs are the ones to reach): after an interruption (`interrupted`), or where
   * a new start would overwrite it; `differences`: the settings that kept --resume from continuing it, as config.ts's
   * configDifferences says them ('key (run X, now Y)').
   */
  | { kind: 'resume'; config: RunConfig; name: string; checkpointDir: string; interrupted?: boolean; differences?: string[] };

/** A refusal with its advice. */
export function refusal(message: string, advice: RunAdvice, exitCode: number = EXIT.failure): AloccError {
  return new AloccError(message, exitCode, advice);
}
