#!/bin/bash
# Times one training step (bench/step-time.ts, wasm, batch 128) at each given commit, e.g.
#   bench/stages.sh eb69f76 cd295ab a111e27
# Each commit's src/ is extracted to /tmp/alocc-stages/<commit>; the current step-time.ts is used for all.
set -e
cd "$(dirname "$0")/.."
for c in "$@"; do
  d=/tmp/alocc-stages/$c
  rm -rf "$d" && mkdir -p "$d/bench"
  git archive "$c" src | tar -x -C "$d"
  ln -s "$(readlink -f node_modules)" "$d/node_modules"
  cp package.json tsconfig.json "$d/"
  cp bench/step-time.ts "$d/bench/"
  echo "$c $(cd "$d" && npx tsx bench/step-time.ts wasm 2>&1 | grep RESULT) load $(cut -d' ' -f1 /proc/loadavg)"
done
