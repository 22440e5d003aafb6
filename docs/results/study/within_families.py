"""Spearman's ρ between each disentanglement score and the A_room2 score / transfer ratio, within
each family of vision modules of the committed study (its results.json), with the same
bootstrap as the report's pooled ρ (2000 resamples of the modules, seed 0, 95%).

The report's ρ pools 20 modules of two families whose agents differ in source skill; this says
whether a score also ranks the modules inside a family.
Usage: python within_families.py results.json
"""

import json
import sys
from pathlib import Path

from darla.transfer.stats import spearman_interval

FAMILIES = {
    "DAE codes (darla, dae)": ("darla", "dae"),
    "pixel VAEs (beta_vae, vae)": ("beta_vae", "vae"),
}
SCORES = ("beta_vae", "dci_disentanglement", "explicitness", "factor_vae", "modularity", "mig",
          "object_probe", "ood/beta_vae", "ood/dci_disentanglement", "ood/explicitness")  # fmt: skip

data = json.loads(Path(sys.argv[1]).read_text())["disentanglement_vs_transfer"]
for family, methods in FAMILIES.items():
    rows = [r for r in data["modules"] if r["vision_module"].rsplit("-", 1)[0] in methods]
    print(f"{family}: {len(rows)} modules")
    for score in SCORES:
        for against in ("headline_score", "transfer_ratio"):
            both = [r for r in rows if r[against] is not None and score in r["scores"]]
            est = spearman_interval([r["scores"][score] for r in both], [r[against] for r in both],
                                    reps=2000, seed=0, confidence=0.95)  # fmt: skip
            lo, hi = est["ci"] if est.get("ci") else (float("nan"), float("nan"))
            print(f"  {score:24s} vs {against:15s} n={len(both):2d}  "
                  f"rho {est['value']:+.2f} [{lo:+.2f}, {hi:+.2f}]")  # fmt: skip
