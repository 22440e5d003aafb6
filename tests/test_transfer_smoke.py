"""`darla see` -> `darla act` -> `darla transfer` with the smoke preset, end to end (slow)."""

from __future__ import annotations

import json
import re

import pytest

from darla.config import compose
from darla.stages.act import run_act
from darla.stages.see import run_see
from darla.stages.transfer import run_transfer


@pytest.mark.slow
def test_smoke_see_act_transfer(smoke_runs) -> None:
    run_see(
        compose("see", ["experiment=smoke", "vision=beta_vae", f"runs_root={smoke_runs}"]),
        progress=False,
    )
    agents = [
        run_act(
            compose("act", ["experiment=smoke", f"representation={rep}", f"runs_root={smoke_runs}",
                            "see_overrides=['experiment=smoke']"]),
            progress=False,
        ).run_dir
        for rep in ("beta_vae", "pixels")
    ]  # fmt: skip
    result = run_transfer(
        compose("transfer", ["experiment=smoke", f"runs_root={smoke_runs}"]),
        [str(a) for a in agents],
        progress=False,
    )
    results = json.loads((result.run_dir / "results.json").read_text())
    smoke = compose("transfer", ["experiment=smoke"])["transfer"]["domains"]
    assert [d["name"] for d in results["domains"]] == list(smoke)
    assert {d["split"] for d in results["domains"]} == {"source", "target"}
    assert set(results["methods"]) == {"beta_vae", "pixels"}
    poi = results["methods"]["beta_vae"]["poi_over_baseline"]
    # the source domains together and each target domain on its own: never pooled
    assert set(poi) == {"source", "A_room2", "A_new_lighting"}
    assert results["headline_domain"] == "A_room2"
    assert results["methods"]["beta_vae"]["headline"]["domain"] == "A_room2"
    assert list(results["latent_shift"]) and all(
        e["method"] == "beta_vae" for e in results["latent_shift"].values()
    )  # the pixels agent has no vision module
    assert len(list(result.run_dir.glob("videos/*.mp4"))) == 2 * len(smoke)
    assert not re.search(
        r"https?://|(?:src|href)\s*=\s*[\"'](?!data:|videos/)", result.report_html.read_text()
    )
