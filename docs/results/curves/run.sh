#!/usr/bin/env bash
# The learning curves in docs/results/curves: pixels, dae and darla agents (PPO, the default
# settings but the budget below), 3 seeds each, source-domain evaluations every EVAL env steps
# on 5 episodes per source domain, in normalised score (0 = random, 1 = the reference policy).
# Run from the repository root on 2 cores: bash docs/results/curves/run.sh
# Three lanes on the two cores: lane 1 trains the vision modules, then the six latent agents one
# after another; lane 2 trains two pixel agents; lane 3 the third pixel agent.
set -euo pipefail
ROOT=${ROOT:-runs/curves}
STEPS=${STEPS:-250000}
EVAL=${EVAL:-12500}
SEE="data.num_frames=10000 train.steps=2000 metrics.enabled=false"
ACT="act.total_timesteps=$STEPS act.eval_every=$EVAL act.eval_episodes=5 act.checkpoint_every=50000"
QUOTED="'${SEE// /\',\'}'"                            # 'a=1','b=2': Hydra's list of strings
start=$(date +%s)
mkdir -p "$ROOT"
lane1() {
  darla see vision=darla $SEE data.workers=1 train.threads=1 runs_root=$ROOT
  for rep in dae darla; do
    darla act -m representation=$rep seed=0,1,2 $ACT runs_root=$ROOT "see_overrides=[$QUOTED]"
  done
}
lane1 > "$ROOT/lane1.log" 2>&1 &
lane1=$!
darla act representation=pixels seed=2 $ACT runs_root=$ROOT > "$ROOT/lane3.log" 2>&1 &
lane3=$!
darla act -m representation=pixels seed=0,1 $ACT runs_root=$ROOT > "$ROOT/lane2.log" 2>&1
wait $lane1 $lane3
darla report $ROOT/act --out docs/results/curves
echo "wall-clock: $(( $(date +%s) - start )) s"
