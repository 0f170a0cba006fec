#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA variant, run the GPU test suites, the benchmarks and
# the fixture generators, most important first, within a time budget (seconds, default 470).
# Every step's log and result files end up in $OUT/results.tgz; $OUT/summary.txt lists exit codes.
#   source .device/env.sh && bash scripts/device/gpu-suite.sh [budget]
set -uo pipefail
cd "$(dirname "$0")/../.."
budget=${1:-470}
deadline=$((SECONDS + budget))
results=$(mktemp -d)
: "${OUT:=$results}"

step() {
  local name=$1 limit=$2
  shift 2
  # ONLY="a b c" runs just those steps (setup always runs).
  if [ -n "${ONLY:-}" ] && [ "$name" != setup ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local left=$((deadline - SECONDS))
  if [ "$left" -lt 20 ]; then
    echo "$name: skipped (out of time)" | tee -a "$results/summary.txt"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS
  (timeout "$limit" "$@") >"$results/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc after $((SECONDS - t0)) s" | tee -a "$results/summary.txt"
  tail -n 12 "$results/$name.log"
}

export RESULTS_DIR=$results
# The fused-attention harness compiles (nvcc only) while the addon builds.
nvcc_bin=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -n "${ONLY:-}" ] && [[ " $ONLY " != *" flash-harness "* ]] || (timeout 300 "$nvcc_bin" -std=c++17 -O3 -arch=sm_90a -I native/csrc native/test/flash/flash_harness.cu \
  native/csrc/cuda/flash_attention.cu -o "$results/flash_harness" >"$results/flash-build.log" 2>&1) &
harness_build=$!
step setup 240 bash scripts/device/setup.sh --arch=90a
wait $harness_build
step flash-harness 90 "$results/flash_harness"
# The fastest backward tile variant at GPT-2 shapes (b 16, 20 heads, d 64) when every variant passed
# (variants 0 and 1 today):
# later steps run with it, so the GPU tests check the variant the benchmarks use.
if grep -q "ALL PASSED" "$results/flash-harness.log" 2>/dev/null; then
  best=$(grep "BENCH b=16 h=20 s=1024 d=64 *causal" "$results/flash-harness.log" |
    sed -E 's/.*var=([0-9]+) .*bwd +([0-9.]+) ms.*/\2 \1/' | sort -n | head -1 | cut -d' ' -f2)
  if [ -n "$best" ]; then
    export TESSERA_FLASH_BWD_VARIANT=$best
    echo "TESSERA_FLASH_BWD_VARIANT=$best from here on (fastest passing backward at d 64)" | tee -a "$results/summary.txt"
  fi
fi
step native-rows 90 bash -c 'cd native && node --test test/rows.gpu.test.ts'
# The GEMM epilogues composed (the default), then fused by cuBLASLt (=2 logs which it fused).
step native-epilogue 120 bash -c 'cd native && node --test test/gemm-epilogue.gpu.test.ts && TESSERA_GEMM_EPILOGUES=2 node --test test/gemm-epilogue.gpu.test.ts'
step native-index 60 bash -c 'cd native && node --test test/index.gpu.test.ts'
# If the pipelined row kernels fail their parity tests, the rest runs without them (and says so).
if grep -q "^native-rows: exit [1-9]" "$results/summary.txt" 2>/dev/null; then
  export TESSERA_ROW_PIPELINE=0
  echo "TESSERA_ROW_PIPELINE=0 from here on (row kernel tests failed)" | tee -a "$results/summary.txt"
fi
step core-gpu 90 bash -c 'cd packages/core && node --conditions=@tessera/source --test --test-concurrency=1 src/*.gpu.test.ts'
step models-hf-gpu 60 bash -c 'cd packages/models && node --conditions=@tessera/source --test test/hf-parity.gpu.test.ts'
step bench-rows 45 env OUT="$results" node bench/kernels/rows.bench.ts
# PyTorch takes about 150 s of this step; NO_TORCH=1 measures Tessera alone.
step bench-gpt 300 env OUT="$results" node --conditions=@tessera/source bench/gpt/train-step.bench.ts --sizes "${GPT_SIZES:-gpt2,gpt2-medium,gpt2-large}" --breakdown ${NO_TORCH:+--no-torch}
# Where a step's time goes: per-part timings, then (when Nsight Systems is installed) a kernel summary.
step profile-gpt 200 bash -c 'node --conditions=@tessera/source bench/gpt/layer-profile.bench.ts --size "${PROFILE_SIZE:-gpt2-large}" &&
  nsys_bin=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1);
  if [ -n "$nsys_bin" ]; then "$nsys_bin" profile -t cuda --stats=true -f true -o "$RESULTS_DIR/gpt-nsys" node --conditions=@tessera/source bench/gpt/train-step.bench.ts --sizes gpt2 --steps 3 --no-torch > "$RESULTS_DIR/nsys-stats.txt" 2>&1; echo "nsys exit $?"; else echo "no nsys on this machine"; fi'
# The same block and parts in PyTorch (eager and compiled) and its SDPA backends, for comparison.
step profile-torch 150 bash -c 'python3 bench/gpt/torch_layer_profile.py "{\"size\": \"${PROFILE_SIZE:-gpt2-large}\"}" | tee "$RESULTS_DIR/torch-layer-profile.json"'
step bench-core 60 env OUT="$results" node --conditions=@tessera/source bench/core.bench.ts
step optimizer-gpu 60 bash -c 'cd packages/optimizer && node --conditions=@tessera/source --test src/optim.gpu.test.ts'
step collectives-nccl 60 bash -c 'cd packages/collectives && node --conditions=@tessera/source --test src/nccl.gpu.test.ts'
step bench-optimizer 75 env OUT="$results" node --conditions=@tessera/source bench/optimizer/step.bench.ts
step native-pointwise-gemm 90 bash -c 'cd native && node --test --test-concurrency=1 test/pointwise.gpu.test.ts test/gemm.gpu.test.ts'
# Transformers fixtures are committed (packages/models/test/fixtures/hf); FIXTURES=1 makes them anew.
if [ "${FIXTURES:-0}" = 1 ]; then step fixtures-hf 90 env OUT="$results/hf-fixtures" python3 tools/fixtures/make_hf_fixtures.py; fi
tar czf "$OUT/results.tgz" -C "$results" .
cp "$results/summary.txt" "$OUT/summary.txt"
echo "=== summary"; cat "$results/summary.txt"
