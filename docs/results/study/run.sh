#!/bin/bash
# The committed study (docs/results/study/), as it was run on 2026-12-02 on the project's 2-core
# CPU machine. Run folders are keyed by their settings: running this again makes the same runs
# (and reuses any that are finished). ROOT holds every run; it is not committed.
set -euo pipefail
ROOT=${ROOT:-runs/study}

# 1. The sweep: 4 methods x 5 seeds, one job per method and seed, two at a time (joblib), each
#    seed with its own vision module (the preset's vision_seed=agent). The code that trained it
#    was commit fe038c3 (the zero-shot-integrity and report changes of b5348f5/467061f came after
#    and change neither the frames, the weights nor the episodes).
darla run -m experiment=study "methods=[pixels_aug],[pixels],[darla],[dae]" runs_root="$ROOT"

# 1b. The preset's other two methods (beta_vae, random) and the plain VAE (beta_vae's code at
#     beta = 1), 5 seeds each, so that the disentanglement <-> transfer correlation has 25
#     vision modules with an agent each (run the next session with HEAD 15ac33a's code, which
#     trains as fe038c3 did).
darla run -m experiment=study "methods=[beta_vae],[vae],[random]" runs_root="$ROOT"

# 2. Score every vision module again with today's metrics: on the source domains' own factor
#    combinations, and (ood/<metric>) on every combination, A_room2's included.
for vision in darla dae; do   # 1b ran with these metrics already
  for seed in 0 1 2 3 4; do
    darla see experiment=study vision=$vision seed=$seed runs_root="$ROOT"
  done
done

# 3. One transfer run over all 35 agents (every episode and video comes from the episode cache
#    the sweep filled: nothing is replayed), with today's report (made by commit d46eae5).
darla transfer "$ROOT"/act/* experiment=study runs_root="$ROOT" transfer.workers=2

# 4. Spearman's rho within each family of vision modules (DAE codes: darla, dae; pixel VAEs:
#    beta_vae, vae), from the committed results.json: within_families.txt.
python docs/results/study/within_families.py docs/results/study/results.json \
  > docs/results/study/within_families.txt
