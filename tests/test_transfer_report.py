"""A transfer report from hand-built results: the held-out headline first, the did-not-learn
rule, each method's vision modules, the per-metric scatter and the rollout videos' grid."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from darla.transfer.aggregate import headline_domain, summarise, vision_modules
from darla.transfer.merge import link_videos
from darla.transfer.render import write_report
from darla.transfer.tables import csv_rows, disentanglement_table, headline_table, summary_table

SOURCE = ["A_room1", "B_room1"]
TARGET = ["A_unseen_colors", "A_room2"]  # the headline is A_room2 wherever it stands
REFERENCE = 5.0  # random returns 0 everywhere: score = return / 5


def cell(ret: float, video: str | None = None) -> dict:
    return {
        "episodes": 2, "mean_return": ret, "std_return": 0.0, "returns": [ret, ret],
        "mean_good_pickups": 1.0, "mean_bad_pickups": 0.0, "mean_length": 12.0, "video": video,
        "blind_share": 0.0,
    }  # fmt: skip


def agent(name, method, seed, vision, source, held, other, videos=False):
    returns = dict(zip(SOURCE, source, strict=True)) | {"A_room2": held, "A_unseen_colors": other}
    return {
        "name": name, "method": method, "seed": seed, "vision_sha": vision,
        "domains": {
            d: cell(r, f"videos/{name}__{d}.mp4" if videos else None) for d, r in returns.items()
        },
    }  # fmt: skip


def results_skeleton() -> dict:
    agents = [
        # darla: one module per seed; seed 1 does not learn (source score 0.95 / 5 = 0.19)
        agent("darla-0", "darla", 0, "d0", [2.0, 3.0], 2.0, 1.0, videos=True),
        agent("darla-1", "darla", 1, "d1", [0.95, 0.95], 0.5, 0.5, videos=True),
        # beta_vae: three seeds on one shared module
        agent("beta-0", "beta_vae", 0, "b", [2.0, 2.0], 1.0, 0.0),
        agent("beta-1", "beta_vae", 1, "b", [3.0, 3.0], 1.5, 0.5),
        agent("beta-2", "beta_vae", 2, "b", [4.0, 4.0], 2.0, 1.0),
        # pixels: end to end, one run
        agent("pixels-0", "pixels", 0, None, [5.0, 5.0], 0.0, 0.0),
    ]
    scores = {"d0": (0.9, 0.7), "d1": (0.1, 0.2), "b": (0.5, 0.4)}
    shift = {
        f"m-{v}": {
            "method": "m", "vision_sha": v, "agents": [a["name"] for a in agents if a["vision_sha"] == v],
            "disentanglement": {"mig": scores[v][0], "object_probe": scores[v][1]},
            "domains": {d: {"relative": 0.1, "distance": 0.1, "reference": "A_room1",
                            "most_moved_latents": [0]} for d in SOURCE + TARGET},
        }
        for v in ("d0", "d1", "b")
    }  # fmt: skip
    per = {d: {**cell(0.0), "mean_return": 0.0} for d in SOURCE + TARGET}
    return {
        "run_key": "test", "run_dir": ".", "config": {"baseline_method": "pixels"},
        "env": {"max_episode_steps": 12, "obs_size": 32}, "seeds": [0, 1],
        "domains": [{"name": d, "split": "source", "factors": {}} for d in SOURCE]
        + [{"name": d, "split": "target", "factors": {}} for d in TARGET],
        "random": per,
        "reference": {d: {**cell(REFERENCE)} for d in SOURCE + TARGET},
        "agents": agents, "latent_shift": shift,
        "bootstrap": {"reps": 200, "seed": 0, "confidence": 0.95},
    }  # fmt: skip


@pytest.fixture
def results() -> dict:
    return summarise(results_skeleton())


def test_the_headline_is_the_held_out_combination(results) -> None:
    assert results["headline_domain"] == "A_room2"  # not the first target listed
    darla = {a["name"]: a for a in results["agents"]}["darla-0"]
    # source score (2/5 + 3/5) / 2 = 0.5; A_room2 score 2/5; ratio (2 − 0) / (2.5 − 0) = 0.8
    assert darla["source_score"] == pytest.approx(0.5)
    assert darla["headline_score"] == pytest.approx(0.4)
    assert darla["transfer_ratio"] == pytest.approx(0.8) and darla["learned"] is True
    assert darla["generalisation_gap"] == pytest.approx(0.5)
    assert "target_return" not in darla and "target_score" not in darla
    h = results["methods"]["beta_vae"]["headline"]
    assert h["domain"] == "A_room2"
    assert h["score"]["value"] == pytest.approx(np.mean([1.0, 1.5, 2.0]) / REFERENCE)
    assert h["source_score"]["value"] == pytest.approx(3.0 / REFERENCE)
    # the ratio of means: mean(1, 1.5, 2) / mean(2, 3, 4) = 1.5 / 3
    assert h["transfer_ratio"]["value"] == pytest.approx(0.5)
    lo, hi = h["transfer_ratio"]["ci"]
    assert lo <= 0.5 <= hi
    # nothing pools the targets: no target/* statistic, the PoI per target domain
    stats = results["methods"]["beta_vae"]["stats"]
    assert not [k for k in stats if k.startswith(("target/", "all/"))]
    assert set(results["methods"]["beta_vae"]["poi_over_baseline"]) == {"source", *TARGET}


def test_the_headline_domain_comes_from_config_else_the_split(results) -> None:
    skeleton = results_skeleton()
    assert headline_domain(skeleton) == "A_room2"
    skeleton["config"]["headline_domain"] = "A_unseen_colors"
    assert summarise(skeleton)["headline_domain"] == "A_unseen_colors"
    other = results_skeleton()
    other["domains"] = [d for d in other["domains"] if d["name"] != "A_room2"]
    assert headline_domain(other) == "A_unseen_colors"  # no A_room2: the first target evaluated


def test_agents_that_did_not_learn_have_no_ratio_and_are_counted(results) -> None:
    darla1 = {a["name"]: a for a in results["agents"]}["darla-1"]
    assert darla1["source_score"] == pytest.approx(0.19)
    assert darla1["learned"] is False and darla1["transfer_ratio"] is None
    h = results["methods"]["darla"]["headline"]
    assert h["did_not_learn"] == {"agents": 1, "of": 2, "share": 0.5, "threshold": 0.2}
    # the method's mean source score (0.5 + 0.19) / 2 = 0.345 >= 0.2: its ratio of means stands,
    # (2 + 0.5) / 2 ÷ (2.5 + 0.95) / 2
    assert h["transfer_ratio"]["value"] == pytest.approx(2.5 / 3.45)
    header, rows = headline_table(results)
    darla_row = dict(zip(header, next(r for r in rows if r[0] == "darla"), strict=True))
    assert darla_row["did not learn"] == "1/2 (50%)"
    assert header[3:5] == ["source score", "A_room2 score (held out)"]
    assert "A_unseen_colors score" in header and not any("target" in c for c in header)
    pixels_row = dict(zip(header, next(r for r in rows if r[0] == "pixels"), strict=True))
    assert pixels_row["A_room2 score (held out)"] == "0.00 (1 run)"  # one run: no interval
    # a method whose mean source score is below 0.2 has no ratio either
    skeleton = results_skeleton()
    skeleton["agents"] = [a for a in skeleton["agents"] if a["name"] != "darla-0"]
    del skeleton["latent_shift"]["m-d0"]
    alone = summarise(skeleton)["methods"]["darla"]["headline"]
    assert alone["transfer_ratio"]["did_not_learn"] and alone["transfer_ratio"]["value"] is None


def test_vision_modules_are_read_from_the_data(results) -> None:
    modes = {m: v["vision_modules"] for m, v in results["methods"].items()}
    assert modes["darla"] == {"count": 2, "agents": 2, "mode": "per_seed",
                              "text": "2 (one per agent seed)"}  # fmt: skip
    assert modes["beta_vae"]["mode"] == "shared"
    assert modes["beta_vae"]["text"] == "1 shared by 3 agents"
    assert modes["pixels"]["mode"] == "none"
    # results from before agents carried vision_sha: the latent-shift entries tell
    old = copy.deepcopy(results)
    for a in old["agents"]:
        del a["vision_sha"]
    beta = [a for a in old["agents"] if a["method"] == "beta_vae"]
    assert vision_modules(old, beta)["text"] == "1 shared by 3 agents"


def test_disentanglement_is_correlated_with_the_held_out_score(results) -> None:
    data = results["disentanglement_vs_transfer"]
    assert data["against"] == {"domain": "A_room2", "quantity": "score"}
    by_module = {r["vision_module"]: r for r in data["modules"]}
    assert by_module["m-b"]["headline_score"] == pytest.approx(1.5 / REFERENCE)
    assert by_module["m-d1"]["transfer_ratio"] is None  # its one agent did not learn
    assert by_module["m-b"]["method"] == "m"  # the scatter colours a method's modules alike
    # A_room2 scores: d0 0.4, d1 0.1, b 0.3; MIG 0.9, 0.1, 0.5 ranks them alike
    assert data["spearman_with_headline"]["mig"]["value"] == pytest.approx(1.0)
    assert set(data["spearman_with_headline"]) == {"mig", "object_probe"}
    assert data["spearman_with_transfer_ratio"] == {}  # two modules have a ratio: fewer than 3


def test_disentanglement_is_correlated_with_the_transfer_ratio_not_the_yardstick() -> None:
    skeleton = results_skeleton()
    # a fourth module, d2: source (2 + 2) / 2, A_room2 2: ratio 1.0; d0's ratio 0.8, b's 0.5
    skeleton["agents"].append(agent("darla-2", "darla", 2, "d2", [2.0, 2.0], 2.0, 1.0))
    skeleton["latent_shift"]["m-d2"] = {
        **skeleton["latent_shift"]["m-d0"], "vision_sha": "d2", "agents": ["darla-2"],
        "disentanglement": {"mig": 0.95, "object_probe": 0.1},
    }  # fmt: skip
    for entry in skeleton["latent_shift"].values():  # the PCA yardstick ranks like MIG
        entry["disentanglement"] = {**entry["disentanglement"],
                                    "object_probe_pca": entry["disentanglement"]["mig"]}  # fmt: skip
    data = summarise(skeleton)["disentanglement_vs_transfer"]
    ratio = data["spearman_with_transfer_ratio"]
    # d1 did not learn (no ratio): d2 1.0 > d0 0.8 > b 0.5; MIG 0.95 > 0.9 > 0.5 ranks alike
    assert ratio["mig"]["value"] == pytest.approx(1.0)
    # object probe d0 0.7, b 0.4, d2 0.1: rank differences 1, 1, 2, so ρ = 1 − 6·6 / (3·8)
    assert ratio["object_probe"]["value"] == pytest.approx(-0.5)
    assert (
        "object_probe_pca" not in ratio and "object_probe_pca" not in data["spearman_with_headline"]
    )
    assert "object_probe_pca" not in data["scores"]
    header, rows = disentanglement_table({"disentanglement_vs_transfer": data})
    assert "object_probe_pca" in header  # shown beside the probe, as a yardstick
    by_label = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert by_label["Spearman ρ with transfer ratio (A_room2) [95% CI]"]["mig"].startswith("1.00 [")
    assert by_label["Spearman ρ with A_room2 score [95% CI]"]["object_probe_pca"] == "reference"
    stats = {r.get("statistic") for r in csv_rows(summarise(skeleton))}
    assert {"spearman_mig_vs_transfer_ratio", "spearman_mig_vs_headline_score"} <= stats


def test_report_leads_with_the_headline_and_plays_the_videos(results, tmp_path) -> None:
    for a in results["agents"]:
        for c in a["domains"].values():
            if c["video"]:
                (tmp_path / c["video"]).parent.mkdir(exist_ok=True)
                (tmp_path / c["video"]).write_bytes(b"mp4")
    files = write_report(tmp_path, results, {})
    page = (tmp_path / "report.html").read_text()
    videos = re.findall(r'<video controls muted loop preload="metadata" src="([^"]+)"', page)
    assert len(videos) == 2 * 4  # the two darla agents x four domains
    assert all((tmp_path / v).is_file() for v in videos)
    assert {tmp_path / v for v in videos} <= set(files.files)
    # nothing outside the folder: images inlined, the videos beside the report
    for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]+)"', page):
        assert ref.startswith("data:") or ref.startswith("videos/"), ref
    md = (tmp_path / "report.md").read_text()
    assert "[videos/darla-0__A_room2.mp4](videos/darla-0__A_room2.mp4)" in md
    assert md.index("A_room2 score (held out)") < md.index("Robust aggregates")
    assert "1 shared by 3 agents" in md and "2 (one per agent seed)" in md
    assert (tmp_path / "disentanglement.png").is_file()
    assert page.count("<img ") >= 3
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["headline_domain"] == "A_room2" and saved["learned_source_score"] == 0.2
    summary = summary_table(results)
    assert summary.splitlines()[0].startswith("method") and "A_room2" in summary.splitlines()[0]
    rows = csv_rows(results)
    ratio = [r for r in rows if r["level"] == "headline" and r["statistic"] == "transfer_ratio"]
    assert {r["method"] for r in ratio} == {"darla", "beta_vae", "pixels"}
    assert all(r["domain"] == "A_room2" for r in ratio)


def test_a_merged_report_links_the_videos_beside_it(tmp_path) -> None:
    # as merge_results leaves them: each video's absolute path in its transfer run's folder
    run = tmp_path / "transfer" / "abc"
    skeleton = results_skeleton()
    for a in skeleton["agents"]:
        for c in a["domains"].values():
            if c["video"]:
                (run / c["video"]).parent.mkdir(parents=True, exist_ok=True)
                (run / c["video"]).write_bytes(c["video"].encode())
                c["video"] = str(run / c["video"])
    gone = skeleton["agents"][0]["domains"]["A_room2"]
    (run / "videos" / "darla-0__A_room2.mp4").unlink()  # a video deleted since: not linked
    out = tmp_path / "report"
    linked = link_videos(skeleton, out)
    assert len(linked) == 7 and gone["video"] is None
    files = write_report(out, summarise(skeleton), {})
    page = (out / "report.html").read_text()
    refs = re.findall(r'<video [^>]*src="([^"]+)"', page)
    assert len(refs) == 7 and all(r.startswith("videos/") for r in refs)
    for ref in refs:  # the same bytes as the transfer run's video, opened from the report's folder
        assert (out / ref).read_bytes() == (run / ref).read_bytes()
        assert out / ref in files.files
