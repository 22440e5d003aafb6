#!/usr/bin/env bash
# Issue 18's results in docs/results/vision_objects: the object probe of the default vision
# modules (darla, beta_vae, vae, dae; each beside a pixel PCA of its code's size) and `darla`
# agents beside `pixels` agents at the default budget (PPO, 125k steps, 3 seeds each).
# Everything is a default but the threads and the metrics, which are only the probe here (the
# full disentanglement scores take minutes per model; `darla metrics RUN` adds them).
# Run from the repository root on 2 cores: bash docs/results/vision_objects/run.sh
# Two lanes, one per core: lane 1 trains the DAE and the β-VAE_DAE, then the darla agents, then
# the VAE; lane 2 the pixel agents (they need no vision module), then the β-VAE.
set -euo pipefail
ROOT=${ROOT:-runs/vision_objects}
OUT=${OUT:-docs/results/vision_objects}
SEE="metrics.names=[object_probe] train.threads=1 data.workers=1 runs_root=$ROOT"
start=$(date +%s)
mkdir -p "$ROOT"
lane1() {
  darla see $SEE                       # vision=darla: the DAE, then the β-VAE_DAE on it
  darla see vision=dae $SEE            # the finished DAE run: scores its probe, trains nothing
  darla act -m representation=darla seed=0,1,2 runs_root=$ROOT
  darla see vision=vae $SEE
}
lane2() {
  darla act -m representation=pixels seed=0,1,2 runs_root=$ROOT
  darla see vision=beta_vae $SEE
}
lane1 > "$ROOT/lane1.log" 2>&1 &
lane1=$!
lane2 > "$ROOT/lane2.log" 2>&1
wait $lane1
darla report "$ROOT/see" --out "$OUT/probe"
darla report "$ROOT/act" --out "$OUT/agents"
echo "wall-clock: $(( $(date +%s) - start )) s"
