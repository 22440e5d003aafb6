#!/usr/bin/env bash
# Issue 19, second round: pixels_aug with DrAC's update (augment.rule=drac, drac_coef 0.1)
# beside the RAD agents of run.sh and the pixels agents, same budget (PPO, 125k steps, 3 seeds),
# two agents at a time on 2 cores (act.threads=1 each). (In the recorded run seed 1 started when
# run.sh's last RAD agent finished, and seed 2 when seed 0 did.)
set -euo pipefail
ROOT=${ROOT:-/work/exp}
drac() { darla act representation=pixels_aug augment.rule=drac seed=$1 runs_root=$ROOT > $ROOT/drac_s$1.log 2>&1; }
{ drac 0; drac 2; } &
drac 1
wait
# the learning curves and their table: pixels, RAD and DrAC side by side
darla report $ROOT/act/pixels-ppo-* $ROOT/act/pixels_aug-ppo-* --out $ROOT/report_pixels_aug
