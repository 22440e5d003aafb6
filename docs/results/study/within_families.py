"""Spearman's ρ between each disentanglement score and the A_room2 score / transfer ratio, within
each family of vision modules of the committed study (its results.json), with the report's own
bootstrap settings (its ``bootstrap``: resamples of the modules, seed, confidence) and every score
the report correlates.

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

results = json.loads(Path(sys.argv[1]).read_text())
data, boot = results["disentanglement_vs_transfer"], results["bootstrap"]
for family, methods in FAMILIES.items():
    rows = [r for r in data["modules"] if r["method"] in methods]
    print(f"{family}: {len(rows)} modules")
    for score in data["scores"]:
        for against in ("headline_score", "transfer_ratio"):
            both = [r for r in rows if r[against] is not None and score in r["scores"]]
            est = spearman_interval([r["scores"][score] for r in both], [r[against] for r in both],
                                    reps=int(boot["reps"]), seed=int(boot["seed"]),
                                    confidence=float(boot["confidence"]))  # fmt: skip
            lo, hi = est["ci"] if est.get("ci") else (float("nan"), float("nan"))
            print(f"  {score:28s} vs {against:15s} n={len(both):2d}  "
                  f"rho {est['value']:+.2f} [{lo:+.2f}, {hi:+.2f}]")  # fmt: skip
