#!/usr/bin/env bash
# Issue 19: pixels_aug (DrQ/RAD random shift, pad 4) beside pixels at the default budget
# (PPO, act.total_timesteps=125000, 3 seeds), on the source domains. The pixels agents are
# the ones of docs/results/vision_objects/run.sh (same settings, same runs root).
# Two agents at a time on 2 cores (act.threads=1 each), then the third.
set -euo pipefail
ROOT=${ROOT:-/work/exp}
darla act representation=pixels_aug seed=0 runs_root=$ROOT > $ROOT/pixels_aug_s0.log 2>&1 &
darla act representation=pixels_aug seed=1 runs_root=$ROOT > $ROOT/pixels_aug_s1.log 2>&1
wait
darla act representation=pixels_aug seed=2 runs_root=$ROOT > $ROOT/pixels_aug_s2.log 2>&1
darla act -m representation=pixels seed=0,1,2 runs_root=$ROOT > $ROOT/pixels_again.log 2>&1  # reused
darla report $ROOT/act --out $ROOT/report_pixels_aug
