#!/usr/bin/env bash
# A RegNetX / RegNetY / EfficientNet population profiled without training, then fitted:
# which complexity measure (flops, params, acts) predicts measured runtime and memory?
#   bash examples/profile/cpu_population.sh [OUT_DIR]     (default sweeps/profile_cpu)
# It prints the per-model table, then the log-log fits (R^2, exponent, bootstrap intervals) and
# the timing noise; rerunning resumes. Plots: notebooks/runtime_predictors.ipynb with
# PYCLS_LIKE_PROFILE=OUT_DIR. (A trained sweep profiled with `pycls-like profile SWEEP_DIR` also
# gets a "What predicts runtime" panel in `pycls-like analyze`.)
# Sizes (default 60 models): N_X=15 RegNetX and N_Y=15 RegNetY sampled at 5-40 MF (different
# seeds: 30 distinct widths and depths), and 30 EfficientNet-B0 scaled down by width or depth and
# width, all at 64-128 px, so that batch 32 on one CPU thread takes well under a second per step
# (2 min 20 s for the 60 models, writing the specs included, on a shared 2-core machine).
# On a GPU use tools/gpu_check.sh (224 px, bf16, a compute-bound batch).
set -euo pipefail
OUT=${1:-sweeps/profile_cpu}
N_X=${N_X:-15}
N_Y=${N_Y:-15}
PROFILE_ARGS=${PROFILE_ARGS:-"--batch-size 32 --threads 1 --warmup 2 --repeats 9"}
PY=${PYTHON:-python3}
SPECS="$OUT/specs"
mkdir -p "$SPECS"
RES='params.resolution={type: choice, values: [64, 80, 96, 112, 128]}'
SAMPLED=()  # only this call's samples (N_X=0 or N_Y=0 leave an older file out)

if [ "$N_X" -gt 0 ]; then
  $PY -m pycls_like sample regnetx -n "$N_X" --seed 0 --set "$RES" --flops 5M:40M -o "$SPECS/regnetx.jsonl"
  SAMPLED+=("$SPECS/regnetx.jsonl")
fi
if [ "$N_Y" -gt 0 ]; then
  $PY -m pycls_like sample regnety -n "$N_Y" --seed 1 --set "$RES" --flops 5M:40M -o "$SPECS/regnety.jsonl"
  SAMPLED+=("$SPECS/regnety.jsonl")
fi
# EfficientNet-B0 shrunk by width (w) or depth and width (dw) at five resolutions: 30 models.
for strategy in w dw; do
  for factor in 0.08 0.15 0.3; do
    for res in 64 80 96 112 128; do
      $PY -m pycls_like scale EfficientNet-B0 --strategy "$strategy" --factor "$factor" \
        --set resolution="$res" -o "$SPECS/effnet_${strategy}_${factor}_${res}px.yaml" > /dev/null
    done
  done
done
# shellcheck disable=SC2086
$PY -m pycls_like profile "${SAMPLED[@]}" "$SPECS"/effnet_*.yaml --out "$OUT" $PROFILE_ARGS
