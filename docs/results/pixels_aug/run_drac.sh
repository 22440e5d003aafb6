#!/usr/bin/env bash
# Issue 19, second round: pixels_aug with DrAC's update (augment.rule=drac, drac_coef 0.1)
# beside the RAD runs of run.sh and the pixels agents, same budget (PPO, 125k steps, 3 seeds).
set -euo pipefail
ROOT=${ROOT:-/work/exp}
darla act representation=pixels_aug augment.rule=drac seed=0 runs_root=$ROOT > $ROOT/drac_s0.log 2>&1 &
# the RAD seed 2 of run.sh is still training: the second DrAC seed waits for it
while pgrep -f "representation=pixels_aug seed=2" > /dev/null; do sleep 20; done
darla act representation=pixels_aug augment.rule=drac seed=1 runs_root=$ROOT > $ROOT/drac_s1.log 2>&1
wait
darla act representation=pixels_aug augment.rule=drac seed=2 runs_root=$ROOT > $ROOT/drac_s2.log 2>&1
