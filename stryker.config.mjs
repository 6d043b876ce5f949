// Mutation testing of alocc's pure-logic modules (docs/testing.md): `npm run mutate`, or one file with
// `npx stryker run --mutate src/eval/metrics.ts`. Each mutant runs only the test files below that reach its code.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  tap: {
    // Fast, pure test files only: a mutant reruns every listed file that reaches its code, in this order, until one
    // fails; a module-level constant reaches them all. percentile's file loads TensorFlow.js (2 s), so it goes last.
    testFiles: [
      'test/config.test.ts',
      'test/runfile.test.ts',
      'test/random.test.ts',
      'test/cli-options.test.ts',
      'test/advice.test.ts',
      'test/run-paths.test.ts',
      'test/float16.test.ts',
      'test/eval-metrics.test.ts',
      'test/percentile.test.ts',
      'test/cell-scale.test.ts',
      'test/cell-calibration.test.ts',
      'test/run-cells.test.ts',
    ],
    // node runs a test file itself (no --test: its child processes would escape Stryker's coverage hook).
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap'],
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Line ranges pick one function out of a module that also holds tensor code (re-check them when those files move).
  mutate: [
    'src/eval/metrics.ts',
    'src/score/scorer.ts:160-167', // percentile
    'src/run/runfile.ts',
    'src/run/paths.ts',
    'src/config.ts',
    'src/data/random.ts',
    'src/data/mnist.ts:167-176', // splitValidation
    'src/cli-options.ts',
    'src/commands/advice.ts',
    'src/score/float16.ts',
    'src/score/cell-scale.ts', // the maps' stored calibration: its check, the scale's rule, the local score
    'src/run/open-cells.ts',
  ],
  coverageAnalysis: 'perTest',
  // Below 85 % `npm run mutate` fails (docs/testing.md lists the survivors that are equivalent).
  thresholds: { high: 90, low: 85, break: 85 },
  concurrency: 1,
  timeoutMS: 20000,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'checkpoints', 'bench', 'reports', 'scratch', 'native/build', '.bench'],
  cleanTempDir: 'always',
};
