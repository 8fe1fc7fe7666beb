#!/usr/bin/env bash
# GPU checks, one section per issue, all writing into one output directory and one table.
#   bash tools/gpu_check.sh            (from the repository root; needs a CUDA build of torch)
# Output: $OUT (default gpu_check_out/): one folder per section, and summary.tsv with one line
# per section: section, status (ok|failed|skipped), seconds, the folder with its figures.
# Each section is independent: a failing one is recorded and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
PY=${PYTHON:-python3}
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.tsv"
printf 'section\tstatus\tseconds\toutput\n' > "$SUMMARY"

section() {  # section NAME FUNCTION: run FUNCTION with $DIR set, record its status and time
  local name=$1 fn=$2 start status
  DIR="$OUT/$name"
  mkdir -p "$DIR"
  echo "== $name"
  start=$(date +%s)
  if "$fn" > >(tee "$DIR/stdout.txt") 2> >(tee "$DIR/stderr.txt" >&2); then status=ok; else status=failed; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$(( $(date +%s) - start ))" "$DIR" >> "$SUMMARY"
}

if ! $PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "no CUDA device visible to torch: nothing to check" >&2
  printf 'all\tskipped\t0\t-\n' >> "$SUMMARY"
  exit 0
fi
$PY -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name(0))'

# ---------------------------------------------------------------------------------------------
# Issue 16: measured runtime and memory vs flops / params / acts (about 1 minute on an H200,
# estimated: never run yet).
# 1. the CUDA tests of `profile` (pytest -m gpu tests/test_profile.py: bf16 record, a small
#    population fitted as one setting, a CPU pass refused in the GPU table);
# 2. RegNetX, RegNetY and EfficientNet presets (200MF-12GF, B0-B4) at 224 px, bf16 autocast,
#    batch ISSUE16_BATCH (default 512), 2 warm-up calls (cuDNN autotunes in the first) + 6 timed
#    calls: prints the per-model table, the log-log fits (R^2 and exponent, 95% bootstrap
#    intervals) and the timing noise; results.csv in $DIR/population. Memory at batch 512, from
#    the CPU population's bytes per activation (8-14 fp32 bytes per act and image, about half in
#    bf16): about 57 GiB for EfficientNet-B4 and 47 GiB for RegNetY-12GF at 224 px (twice that
#    if all were fp32: still within an H200's 139 GiB);
# 3. is the batch compute-bound? At batch 32 an H200 is launch-bound (RegNetX-200MF and 32GF
#    steps took 19 and 43 ms): the smallest model of each family is timed again at half the
#    batch; a time ratio near 2 means the step follows the work, near 1 that the host's kernel
#    launches set it (then the small models' times are floors, not work: say so with the fits);
# 4. the paper's claim: on a GPU acts predicts runtime better than flops, R^2(acts) - R^2(flops)
#    with a paired bootstrap interval per figure (`analysis.runtime.r2_differences`).
issue16_profile() {
  local batch=${ISSUE16_BATCH:-512} models=(
    RegNetX-200MF RegNetX-400MF RegNetX-800MF RegNetX-1.6GF RegNetX-3.2GF RegNetX-6.4GF
    RegNetX-12GF RegNetY-200MF RegNetY-400MF RegNetY-800MF RegNetY-1.6GF RegNetY-3.2GF
    RegNetY-6.4GF RegNetY-12GF EfficientNet-B0 EfficientNet-B1 EfficientNet-B2 EfficientNet-B3
    EfficientNet-B4
  )
  local common=(--device cuda --dtype bf16 --resolution 224 --warmup 2 --repeats 6)
  $PY -m pytest -q -m gpu -p no:cacheprovider tests/test_profile.py &&
  $PY -m pycls_like profile "${models[@]}" --out "$DIR/population" --batch-size "$batch" \
    "${common[@]}" &&
  $PY -m pycls_like profile RegNetX-200MF RegNetY-200MF EfficientNet-B0 --out "$DIR/half_batch" \
    --batch-size "$((batch / 2))" "${common[@]}" > "$DIR/half_batch.txt" &&
  $PY - "$DIR/population/results.csv" "$DIR/half_batch/results.csv" <<'PYEOF'
import sys
import pandas as pd
from pycls_like.analysis.runtime import r2_differences
full, half = (pd.read_csv(path).set_index("name") for path in sys.argv[1:])
for name in half.index:
    ratios = ", ".join(
        f"{fig} {full.at[name, fig]:.1f} / {half.at[name, fig]:.1f} ms = x{full.at[name, fig] / half.at[name, fig]:.2f}"
        for fig in ("fwd_ms", "train_ms")
    )
    print(f"batch {int(full.at[name, 'profile_batch_size'])} vs {int(half.at[name, 'profile_batch_size'])}, {name}: {ratios}"
          " (x2 compute-bound, x1 launch-bound)")
for r in r2_differences(pd.read_csv(sys.argv[1])).itertuples():
    verdict = "acts better" if r.lo > 0 else "flops better" if r.hi < 0 else "no clear winner"
    print(f"R^2(acts) - R^2(flops), {r.figure}: {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]: {verdict}")
PYEOF
}
section issue16_profile issue16_profile

# ---------------------------------------------------------------------------------------------
# Issue 17: the conv-stem study at 64 px (about 2.5 minutes on an H200). The shipped study
# (examples/studies/vit_stem_stability.yaml) on its 64 px ViTP/ViTC pair (35.4 / 34.0 MF): 64
# sampled training settings, each trained with both stems (128 runs; the space crosses stem_type),
# 10,000 synthetic images, 8 runs packed on the GPU. Training stops after ISSUE17_BUDGET seconds
# (default 120); what finished is collected and analysed (runs start in setting order, so a cut
# sweep loses only its last settings; a setting missing one stem is left out of the paired test).
# Prints the stability table per stem and optimizer and the paired tests (Wilcoxon signed-rank of
# the per-setting error difference); the paper's direction: ViTC has the lower error on most
# settings, the smaller spread and more settings within a few points of its best, for both
# optimizers.
issue17_stem_study() {
  local study=examples/studies/vit_stem_stability.yaml sets=(
    --set "dir=$DIR/sweep" --set "n=${ISSUE17_N:-128}" --set 'constraints.where=["resolution == 64"]'
    --set base.device=cuda --set base.data.n_train=10000 --set base.data.n_test=2000
    --set launcher.gpus_per_run=1 --set launcher.runs_per_gpu=8 --set launcher.workers=8
    --set launcher.threads_per_worker=2
  )
  $PY -m pycls_like sweep setup "$study" "${sets[@]}" &&
  { timeout "${ISSUE17_BUDGET:-120}" $PY -m pycls_like sweep launch "$study" "${sets[@]}" -q; true; } &&
  $PY -m pycls_like sweep collect "$DIR/sweep" &&
  $PY -m pycls_like sweep status "$DIR/sweep" &&
  $PY -m pycls_like analyze "$DIR/sweep" --by stem_type,optimizer -o "$DIR/by_stem.html" &&
  $PY -m pycls_like analyze "$DIR/sweep" --by stem_type -o "$DIR/by_stem_pooled.html" \
    --json "$DIR/by_stem_pooled.json"
}
section issue17_stem_study issue17_stem_study

# ---------------------------------------------------------------------------------------------
# Issue 15: populations at GPU speed (at most 4.5 minutes: the step limits add up to 235 s, plus
# at most 5 s per step to stop; one failing or hanging step does not eat the others' time;
# steps.tsv in $DIR lists each step's exit code and seconds, 124 = cut at its limit).
# 1. the CUDA tests (pytest -m gpu): engine, data-parallel, measured packing on the GPU;
# 2. engine-vs-bare loop at 32 px (27 MF, bf16) and 224 px (RegNetX-200MF, bf16 and fp32,
#    batch 128): target overhead <= 3% at 224 px;
# 3. tools/bench_population.py, three ways (pycls's: a fresh process per run, one at a time;
#    the default: persistent workers, measured packing; a bare-loop bound), each way cut at its
#    --budget (models/hour counts finished models): targets, in models/hour over pycls's way,
#    >= 5x for the CIFAR-scale population and >= 1.2x for the 224 px one;
# 4. `python3 -m pycls_like demo --quick`: target faster than 2 idle CPU cores (69 s); cut at 47 s.
issue15_step() {  # issue15_step NAME SECONDS CMD...: run CMD under a time limit, log its status
  local name=$1 limit=$2 start rc
  shift 2
  echo "-- $name (limit ${limit} s)"
  start=$(date +%s)
  timeout -s INT -k 5 "$limit" "$@" > >(tee "$DIR/$name.txt") 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >> "$DIR/steps.tsv"
  [ "$rc" -eq 0 ] || ISSUE15_FAILED=1
}
issue15_populations() {
  ISSUE15_FAILED=0
  printf 'step\texit\tseconds\n' > "$DIR/steps.tsv"
  issue15_step cuda_tests 35 $PY -m pytest -q -m gpu -p no:cacheprovider \
    tests/test_engine_train.py tests/test_distributed.py tests/test_sweep_packing.py
  issue15_step overhead_32px_bf16 10 $PY tools/bench_train.py --device cuda --rounds 8
  issue15_step overhead_224px_bf16 14 $PY tools/bench_train.py --device cuda --rounds 8 \
    --model RegNetX-200MF --resolution 224 --dtype bf16
  issue15_step overhead_224px_fp32 14 $PY tools/bench_train.py --device cuda --rounds 8 \
    --model RegNetX-200MF --resolution 224 --dtype fp32
  issue15_step population_small 70 $PY tools/bench_population.py --device cuda \
    --populations small --budget "${ISSUE15_BUDGET_SMALL:-20}" --out "$DIR/population_small"
  issue15_step population_large 45 $PY tools/bench_population.py --device cuda \
    --populations large --budget "${ISSUE15_BUDGET_LARGE:-8}" --out "$DIR/population_large"
  issue15_step demo_quick 47 $PY -m pycls_like demo --quick --device cuda --out "$DIR/demo" -q
  echo "demo --quick on the GPU: $(tail -n 1 "$DIR/steps.tsv" | cut -f 3) s, exit" \
    "$(tail -n 1 "$DIR/steps.tsv" | cut -f 2) (124/137: cut at 47 s); 2 idle CPU cores: 69 s"
  column -t -s $'\t' "$DIR/steps.tsv" 2>/dev/null || cat "$DIR/steps.tsv"
  return "$ISSUE15_FAILED"
}
section issue15_populations issue15_populations

# (later issues: add a function and a `section NAME FUNCTION` line here)

echo "== summary ($SUMMARY)"
column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
