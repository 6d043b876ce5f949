/**
 * alocc as a library: `import { loadDetector } from 'alocc'` (or require). The CLI's train, eval, score and serve
 * commands are built on these; nothing here prints or exits.
 */
export { loadDetector, Detector } from './api/detector';
export { SCORE_CHUNK } from './api/verdicts';
export type { DetectorInfo, DetectorOptions, ScoreCallOptions, ScoreWithImages } from './api/detector';
export type { LocalVerdict, ScoreFailure, ScoreMap, ScoreResult } from './api/verdicts';
export type { ImageInput, RawImage } from './api/input';
export { train } from './api/train';
export type { TrainOptions, TrainProgress } from './api/train';
export type { TrainInfo } from './train/info';
export { evaluate } from './api/evaluate';
export type { EvaluateOptions, EvaluateProgress } from './api/evaluate';
export { buildServer, DEFAULT_LIMITS } from './serve/server';
export type { ServeLimits } from './serve/server';
export { AloccError, UsageError, EXIT } from './errors';
export { MAX_IMAGE_PIXELS } from './data/decode';
export type { BackendChoice, BackendInfo } from './backend-choice';
export type { EvalReport } from './eval/evaluate';
export type { EpochRecord, RunFile } from './run/runfile';
export type { RunPreprocessing } from './run/select';
