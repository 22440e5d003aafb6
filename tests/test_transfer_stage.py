"""`run_transfer` on real (tiny) act runs: the report, resuming, reuse and bad input."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest
from transfer_fixtures import agent_runs, transfer_config

import envs
from darla.errors import DarlaError
from darla.stages.transfer import run_transfer

DIM = "extra_domains=[{base: A_room1, light_color: dim, name: A_dim}]"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    return root, agent_runs(root)


@pytest.fixture(scope="module")
def finished(runs):
    root, agents = runs
    result = run_transfer(transfer_config(root, DIM), [str(a) for a in agents], progress=False)
    return root, agents, result


def test_results_cover_every_agent_and_domain(finished) -> None:
    _, agents, result = finished
    results = json.loads((result.run_dir / "results.json").read_text())
    names = [d["name"] for d in results["domains"]]
    assert names == [*envs.domain_names(), "A_dim"]  # every named domain plus the mapped one
    split = {d["name"]: d["split"] for d in results["domains"]}
    assert {n for n, s in split.items() if s == "source"} == set(envs.source_domains())
    assert split["A_dim"] == "target"
    assert set(results["random"]) == set(names)
    assert len(results["agents"]) == len(agents)
    for agent in results["agents"]:
        assert set(agent["domains"]) == set(names)
        for cell in agent["domains"].values():
            assert cell["episodes"] == 2 and len(cell["returns"]) == 2
        # the gap and the ratio are on the held-out combination, not on the targets pooled
        assert "target_return" not in agent
        assert agent["headline_return"] == agent["domains"]["A_room2"]["mean_return"]
        assert agent["generalisation_gap"] == pytest.approx(
            agent["source_return"] - agent["headline_return"]
        )
        assert agent["learned"] is (agent["source_score"] >= 0.2)
        assert (agent["transfer_ratio"] is not None) is agent["learned"]
        # its frozen encoder's weights hash (each agent here has one; a pixels agent: None)
        assert len(agent["vision_sha"]) == 12
        # the blind diagnostic: its blank-frame twin played once, each cell compared with it
        assert agent["blind"]["episodes"] == 2
        shares = [cell["blind_share"] for cell in agent["domains"].values()]
        assert all(0.0 <= s <= 1.0 for s in shares)
        assert agent["blind_share"] == pytest.approx(sum(shares) / len(shares))
    for method in results["methods"].values():
        assert 0.0 <= method["blind_share"] <= 1.0
    assert len(list((result.run_dir / "cells").glob("*@blind.json"))) == len(agents)
    assert set(results["methods"]) == {"beta_vae", "random"}
    assert results["methods"]["beta_vae"]["runs"] == 2
    assert results["headline_domain"] == "A_room2"
    beta = results["methods"]["beta_vae"]
    assert set(beta["poi_over_baseline"]) == {"source", "A_room2", "A_unseen_textures",
                                              "A_unseen_colors", "A_new_lighting", "A_dim"}  # fmt: skip
    assert beta["poi_over_baseline"]["A_room2"]["value"] is not None
    assert not [k for k in beta["stats"] if k.startswith(("target/", "all/"))]
    head = beta["headline"]
    assert head["domain"] == "A_room2" and head["did_not_learn"]["of"] == 2
    assert head["score"] == beta["stats"]["A_room2/score_mean"]
    assert results["methods"]["random"]["headline"]["score"]["ci"] is None  # one run: no CI
    # two β-VAE seeds on one module, the random-encoder agent its own
    assert beta["vision_modules"]["mode"] == "shared"
    assert beta["vision_modules"]["text"] == "1 shared by 2 agents"
    # the latent shift of each vision module (two frozen β-VAE agents share one module)
    shift = results["latent_shift"]
    assert len(shift) == 2 and {len(v["agents"]) for v in shift.values()} == {1, 2}
    for entry in shift.values():
        assert set(entry["domains"]) == set(names)
        assert entry["domains"]["A_room2"]["reference"] == "A_room1"

    # the vision module's disentanglement scores beside its agents' target return
    (module,) = results["disentanglement_vs_transfer"]["modules"]
    assert module["scores"] == {"mig": 0.25, "sap": 0.1}
    assert module["vision_module"].startswith("beta_vae")

    with open(result.run_dir / "results.csv") as f:
        rows = list(csv.DictReader(f))
    per_cell = [r for r in rows if r["level"] == "agent_domain"]
    assert len(per_cell) == len(agents) * len(names)
    assert all(0.0 <= float(r["blind_share"]) <= 1.0 for r in per_cell)
    assert {r["statistic"] for r in rows if r["level"] == "method"} >= {"mean", "iqm"}
    assert {r["statistic"] for r in rows if r["level"] == "headline"} >= {
        "transfer_ratio",
        "score",
        "did_not_learn_share",
    }


def test_report_is_self_contained_and_printed_last(finished, capsys) -> None:
    root, agents, result = finished
    page = result.report_html.read_text()
    assert page.count("<img ") >= 4 and "data:image/png;base64," in page
    # images inlined; the only files it points to are the rollout videos beside it
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:|videos/)", page)
    assert not re.search(r"https?://|url\(|<script|<link|@import", page)
    players = re.findall(r'<video controls muted loop[^>]* src="(videos/[^"]+)"', page)
    assert len(players) == len(agents) * 8  # the grid: every agent in every domain
    assert all((result.run_dir / v).is_file() for v in players)
    assert all(v in (result.run_dir / "report.md").read_text() for v in players)
    for name in (
        "report.md",
        "returns.png",
        "transfer_ratio.png",
        "latent_shift.png",
        "manifest.json",
    ):
        assert (result.run_dir / name).is_file()
    assert len(list(result.run_dir.glob("recon_*.png"))) == 2
    assert "played blind" in (result.run_dir / "report.md").read_text() and "played blind" in page
    videos = sorted(p.name for p in result.run_dir.glob("videos/*.mp4"))
    assert len(videos) == len(agents) * 8  # one per agent and domain
    # a second call reuses the finished folder and prints the table and the report's path last
    again = run_transfer(transfer_config(root, DIM), [str(a) for a in agents], progress=False)
    assert again.reused and again.run_dir == result.run_dir
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"report: {result.run_dir / 'report.html'}"
    assert lines[-3].startswith("random policy") and lines[-2].startswith("reference policy")
    assert any(line.startswith("beta_vae") for line in lines)


def test_interrupted_evaluation_resumes_without_rerunning_finished_cells(finished, capsys) -> None:
    root, agents, result = finished
    run_dir = result.run_dir
    before = json.loads((run_dir / "results.json").read_text())
    cells = sorted((run_dir / "cells").glob("*.json"))
    kept = {p: p.stat().st_mtime_ns for p in cells[1:]}
    (run_dir / "manifest.json").unlink()  # as if killed before the end: one cell unplayed
    unplayed = json.loads(cells[0].read_text())["episodes_key"]
    cells[0].unlink()
    (root / "transfer" / "episodes" / f"{unplayed}.json").unlink()
    resumed = run_transfer(transfer_config(root, DIM), [str(a) for a in agents], progress=False)
    out = capsys.readouterr().out
    assert f"{len(cells) - 1} of {len(cells)} cells done" in out
    assert not resumed.reused and cells[0].is_file()
    assert {p: p.stat().st_mtime_ns for p in cells[1:]} == kept  # finished cells untouched
    after = json.loads((run_dir / "results.json").read_text())
    assert after["agents"] == before["agents"] and after["random"] == before["random"]
    assert after["methods"] == before["methods"]


def test_another_report_of_the_same_episodes_replays_none(finished, capsys) -> None:
    root, agents, result = finished
    capsys.readouterr()
    other = run_transfer(
        transfer_config(
            root, DIM, "transfer.bootstrap.reps=150", "transfer.baseline_method=beta_vae"
        ),
        [str(a) for a in agents],
        progress=False,
    )
    assert other.run_dir != result.run_dir and not other.reused  # another report...
    cells = len(list((result.run_dir / "cells").glob("*.json")))
    assert f"{cells} of {cells} cells done already" in capsys.readouterr().out  # ...no episode
    first = json.loads((result.run_dir / "results.json").read_text())
    second = json.loads((other.run_dir / "results.json").read_text())
    assert second["bootstrap"]["reps"] == 150
    assert [a["domains"] for a in second["agents"]] == [a["domains"] for a in first["agents"]]
    assert sorted(p.name for p in (other.run_dir / "videos").iterdir()) == sorted(
        p.name for p in (result.run_dir / "videos").iterdir()
    )  # the videos come along from the cache


def test_agent_order_and_workers_do_not_change_the_key(runs, finished) -> None:
    root, agents, result = finished
    again = run_transfer(
        transfer_config(root, DIM, "transfer.workers=3"),
        [str(a) for a in reversed(agents)],
        progress=False,
    )
    assert again.reused and again.run_dir == result.run_dir


@pytest.mark.parametrize(
    ("overrides", "runs_arg", "message"),
    [
        ((), "missing", "does not exist"),
        ((), "unfinished", "not finished"),
        (("domains=[A_room1,Atlantis]",), None, "Atlantis"),
        (("transfer.obs_size=64",), None, "takes 32x32 frames"),
        (("episodes=0",), None, "transfer.episodes=0: use a whole number >= 1"),
        (("transfer.bootstrap.reps=0",), None, "transfer.bootstrap.reps=0: use a whole number"),
        (("transfer.bootstrap.confidence=1.5",), None, "confidence=1.5: use a number > 0"),
        (("transfer.workers=0",), None, "transfer.workers=0: use a whole number >= 1"),
        (("domains=[A_room2,A_new_lighting]",), None, "no source domain"),
        ((), "none", "no agent runs"),
    ],
)
def test_bad_input_is_one_line(runs, tmp_path, overrides, runs_arg, message) -> None:
    root, agents = runs
    paths = [str(a) for a in agents]
    if runs_arg == "missing":
        paths.append(str(root / "act" / "no-such-run"))
    elif runs_arg == "unfinished":
        unfinished = tmp_path / "act" / "beta_vae-ppo-unfinished"
        shutil.copytree(agents[0], unfinished)
        (unfinished / "manifest.json").unlink()
        paths.append(str(unfinished))
    elif runs_arg == "none":
        paths = []
    with pytest.raises(DarlaError) as error:
        run_transfer(transfer_config(tmp_path, *overrides), paths, progress=False)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_transfer_scores_the_policy_whose_curve_act_drew(runs) -> None:
    # act evaluated each agent with transfer's loop, rule and seeds (act.eval_seed=0,
    # act.eval_episodes=1 in every source domain): transfer on those episodes gives its numbers
    root, agents = runs
    cfg = transfer_config(
        root, "episodes=1", "transfer.seed=0", "videos=false", "transfer.shift.enabled=false",
        f"domains=[{','.join(envs.source_domains())},A_room2]",
    )  # fmt: skip
    results = run_transfer(cfg, [str(a) for a in agents], progress=False).results
    assert results["config"]["deterministic"] is False  # the agents' act.eval_deterministic
    for agent, run in zip(results["agents"], agents, strict=True):
        summary = json.loads((run / "summary.json").read_text())
        for domain in envs.source_domains():
            assert (
                agent["domains"][domain]["mean_return"] == summary["domains"][domain]["mean_return"]
            )
            assert agent["domains"][domain]["score"] == pytest.approx(
                summary["domains"][domain]["score"], nan_ok=True
            )
            # and the blind diagnostic: the same twin, the same episodes compared with it
            assert (
                agent["domains"][domain]["blind_share"] == summary["domains"][domain]["blind_share"]
            )
