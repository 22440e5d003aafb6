#!/usr/bin/env bash
# The learning curves in docs/results/curves: pixels, dae and darla agents (PPO, the default
# settings but the budget below), 3 seeds each, source-domain evaluations every 10k steps on
# 5 episodes per source domain, in normalised score (0 = random, 1 = the reference policy).
# Run from the repository root on 2 cores: bash docs/results/curves/run.sh
set -euo pipefail
ROOT=${ROOT:-runs/curves}
STEPS=${STEPS:-100000}
SEE="data.num_frames=10000 train.steps=2000 metrics.enabled=false"
ACT="act.total_timesteps=$STEPS act.eval_every=10000 act.eval_episodes=5 act.checkpoint_every=20000"
QUOTED="'${SEE// /\',\'}'"                            # 'a=1','b=2': Hydra's list of strings
start=$(date +%s)
mkdir -p "$ROOT"
# the vision modules (the DAE, then the beta-VAE_DAE) on one core while pixel agents train
darla see vision=darla $SEE data.workers=1 train.threads=1 runs_root=$ROOT > "$ROOT/see.log" 2>&1 &
see=$!
darla act -m representation=pixels seed=0,1,2 $ACT runs_root=$ROOT
wait $see
for rep in dae darla; do
  darla act -m representation=$rep seed=0,1,2 $ACT runs_root=$ROOT \
    "see_overrides=[$QUOTED]" hydra/launcher=joblib hydra.launcher.n_jobs=2
done
darla report $ROOT/act --out docs/results/curves
echo "wall-clock: $(( $(date +%s) - start )) s"
