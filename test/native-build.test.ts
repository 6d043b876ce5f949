import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// How the addon is built: rebuilt when what it is made of changes (sources, compiler, flags), not by file times;
// an ALOCC_ISA the CPU lacks refused in one line; and the sources compile for aarch64 (baseline only).

const ROOT = path.join(__dirname, '..');
const BUILD_SCRIPT = path.join(ROOT, 'scripts', 'build-native.js');
const { compilePlan, nodeInclude } = require(BUILD_SCRIPT) as {
  compilePlan(arch: string, include: string, objectDir: string): { source: string; object: string; args: string[] }[];
  nodeInclude(): { dir?: string; tried: string[] };
};

function found(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}
const CC = process.env.CC || 'cc';
const INCLUDE = nodeInclude().dir;
const noCompiler = (!found(CC) && `no C compiler '${CC}'`) || (!INCLUDE && "Node's headers (node_api.h) not found");

test('the addon is rebuilt when its sources, compiler or flags change, and only then', { skip: noCompiler }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-build-'));
  try {
    fs.cpSync(path.join(ROOT, 'native'), path.join(dir, 'native'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'scripts'));
    const script = path.join(dir, 'scripts', 'build-native.js');
    fs.copyFileSync(BUILD_SCRIPT, script);
    const addon = path.join(dir, 'build', 'alocc_kernels.node');
    const build = (env: NodeJS.ProcessEnv = {}) => {
      const r = spawnSync(process.execPath, [script], { env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(r.stderr, '', 'the build says nothing when it succeeds');
      return fs.statSync(addon).ino; // a rebuild renames a new file into place
    };
    const first = build();
    assert.equal(build(), first, 'nothing changed: not rebuilt');
    const future = new Date(Date.now() + 3600_000);
    fs.utimesSync(path.join(dir, 'native', 'conv.c'), future, future);
    assert.equal(build(), first, 'a newer file time alone: not rebuilt');

    fs.appendFileSync(path.join(dir, 'native', 'conv.c'), '\n/* changed */\n');
    const afterSource = build();
    assert.notEqual(afterSource, first, 'a source changed: rebuilt');

    // The same compiler under a different version string (an upgraded cc).
    const wrapper = path.join(dir, 'cc-upgraded');
    fs.writeFileSync(wrapper, `#!/bin/sh\nif [ "$1" = --version ]; then echo "cc 99.1 (upgraded)"; exit 0; fi\nexec ${CC} "$@"\n`, { mode: 0o755 });
    const afterCompiler = build({ CC: wrapper });
    assert.notEqual(afterCompiler, afterSource, 'the compiler version changed: rebuilt');
    assert.equal(build({ CC: wrapper }), afterCompiler, 'and then kept');

    // Different CPU target flags (they live in the build script).
    fs.writeFileSync(script, fs.readFileSync(script, 'utf8').replace("avx2: ['-mavx2', '-mfma']", "avx2: ['-mavx2', '-mfma', '-mtune=haswell']"));
    assert.notEqual(build({ CC: wrapper }), afterCompiler, 'the flags changed: rebuilt');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the addon itself is built for the baseline: no AVX instruction outside the per-ISA kernels', { skip: (noCompiler || !found('objdump') && 'no objdump') || (process.arch !== 'x64' && 'not x86-64') }, () => {
  const addon = path.join(ROOT, 'build', 'alocc_kernels.node');
  assert.ok(fs.existsSync(addon), `${addon} missing: npm run build:native`);
  const listing = execFileSync('objdump', ['-d', '--no-show-raw-insn', addon], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const offenders = new Set<string>();
  let fn = '';
  for (const line of listing.split('\n')) {
    const header = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (header) fn = header[1];
    else if (/%[yz]mm/.test(line) && !/_(avx512|avx2)(\.|$)/.test(fn)) offenders.add(fn);
  }
  // Static helpers of the per-ISA objects are not suffixed; they are called only from the suffixed functions.
  const perIsaStatics = /^(micro|micro_\d_\d|im2col|forward_block|filter_block|input_image|block_rows|forward_rows|filter_images|row_forward|pixels_forward|image_filter|pixel_filter|pooled_images|pooled_cell|pooled_cell_\d|pooled_cell_any|pooled_cell_scalar)(\.|$)/;
  assert.deepEqual([...offenders].filter((f) => !perIsaStatics.test(f)), [], 'functions with 256/512-bit registers that any CPU may run');
  assert.ok(/conv_forward_avx512>/.test(listing) && /conv_forward_avx2>/.test(listing) && /conv_forward_baseline>/.test(listing));
});

test('ALOCC_ISA forces an instruction set, and one the build or CPU lacks is refused in one line', { skip: !fs.existsSync(path.join(ROOT, 'build', 'alocc_kernels.node')) && 'addon not built' }, () => {
  const load = (isa: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '-e', "console.log(JSON.stringify(require('./src/kernels').loadNativeKernels()))"], {
      cwd: ROOT,
      env: { ...process.env, ALOCC_ISA: isa },
      encoding: 'utf8',
    });
  const forced = load('baseline');
  assert.equal(forced.status, 0, forced.stderr);
  const status = JSON.parse(forced.stdout);
  assert.equal(status.isa, 'baseline');
  assert.equal(status.vectorWidth, 4);
  for (const isa of ['avx512', 'avx2', 'neon'].filter((i) => !status.isas.includes(i))) {
    const refused = load(isa);
    assert.notEqual(refused.status, 0);
    const why = isa === 'neon' ? "unknown instruction set 'neon'" : `this CPU lacks ${isa}`;
    assert.match(refused.stderr, new RegExp(`AloccError: ALOCC_ISA=${isa}: ${why} .*; unset ALOCC_ISA or pick one of those`));
  }
});

const CROSS = 'aarch64-linux-gnu-gcc';
test('the sources compile for aarch64 (baseline kernels only, no x86 intrinsics)', { skip: (!found(CROSS) && `no ${CROSS} here (Debian: apt-get install gcc-aarch64-linux-gnu)`) || (!INCLUDE && "Node's headers not found") }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-aarch64-'));
  try {
    const plan = compilePlan('arm64', INCLUDE!, dir);
    assert.ok(plan.every((p) => !p.args.some((a) => a.startsWith('-m'))), 'no -m flags on aarch64');
    assert.deepEqual(plan.filter((p) => p.args.some((a) => a.startsWith('-DALOCC_ISA='))).map((p) => path.basename(p.object)), ['conv.baseline.o', 'gemm.baseline.o', 'pooled.baseline.o']);
    for (const step of plan) {
      const r = spawnSync(CROSS, [...step.args, '-Werror'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${step.source}: ${r.stderr}`);
      const elf = fs.readFileSync(step.object);
      assert.equal(elf.readUInt16LE(18), 183, `${step.source}: an AArch64 object (ELF e_machine 183)`);
    }
    if (found('aarch64-linux-gnu-nm')) {
      const undefinedSymbols = execFileSync('aarch64-linux-gnu-nm', ['-u', ...plan.map((p) => p.object)], { encoding: 'utf8' });
      assert.doesNotMatch(undefinedSymbols, /_(avx512|avx2)\b/, 'the ISA table names only what was compiled');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
