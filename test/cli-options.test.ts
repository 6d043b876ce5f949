// The number options' parsers, in-process: the accepted ranges' edges, and the one-line message for a bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, InvalidArgumentError } from 'commander';
import { buildProgram } from '../src/cli';

function parserOf(command: string, flag: string): (value: string) => unknown {
  const cmd = buildProgram().commands.find((c: Command) => c.name() === command)!;
  const option = cmd.options.find((o) => o.long === flag)!;
  return (value) => option.parseArg!(value, undefined);
}

function refuses(parse: (v: string) => unknown, value: string, message: string) {
  assert.throws(() => parse(value), (e: unknown) => e instanceof InvalidArgumentError && e.message === message, `'${value}'`);
}

test('whole-number options accept their range and refuse anything else with one line', () => {
  const digit = parserOf('train', '--digit');
  for (const [v, n] of [['0', 0], ['9', 9], [' 7 ', 7], ['-0', -0], ['05', 5]] as const) assert.equal(digit(v), n);
  for (const v of ['10', '-1', '1.5', '1e0', '', ' ', 'abc', '0x1', '3a']) refuses(digit, v, '--digit must be a whole number from 0 to 9.');
  const epochs = parserOf('train', '--epochs');
  assert.equal(epochs('1'), 1);
  assert.equal(epochs('10000'), 10000);
  refuses(epochs, '0', '--epochs must be a whole number from 1 to 10000.');
  refuses(epochs, '10001', '--epochs must be a whole number from 1 to 10000.');
  const seed = parserOf('train', '--seed');
  assert.equal(seed(String(2 ** 31 - 1)), 2 ** 31 - 1);
  refuses(seed, String(2 ** 31), `--seed must be a whole number from 0 to ${2 ** 31 - 1}.`);
});

test('decimal options accept their range and refuse anything else with one line', () => {
  const lr = parserOf('train', '--lr');
  for (const [v, n] of [['0.001', 0.001], ['10', 10], ['1e-4', 1e-4], [' 0.5 ', 0.5]] as const) assert.equal(lr(v), n);
  for (const v of ['0', '-1', '10.5', '', '  ', 'x', 'NaN', 'Infinity']) refuses(lr, v, '--lr must be a number above 0 to 10.');
  const rAlpha = parserOf('train', '--r-alpha');
  assert.equal(rAlpha('0'), 0);
  assert.equal(rAlpha('1e6'), 1e6);
  for (const v of ['-0.1', 'Infinity', '', '   ']) refuses(rAlpha, v, '--r-alpha must be a number from 0.');
  const noise = parserOf('train', '--noise-std');
  assert.equal(noise('0'), 0);
  assert.equal(noise('10'), 10);
  refuses(noise, '10.01', '--noise-std must be a number from 0 to 10.');
  refuses(noise, '-0.01', '--noise-std must be a number from 0 to 10.');
});
