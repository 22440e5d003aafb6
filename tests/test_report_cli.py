"""`darla report`: many real (tiny) transfer runs merged into one comparison, and its statistics.

Three `darla act` runs (β-VAE seeds 0 and 1 on one vision module, a random-encoder agent) and
three `darla transfer` runs: A = {β-VAE 0, random} on two domains, B = {β-VAE 0, β-VAE 1} on
three (β-VAE 0 is in both, B_room1 only in B), C = {random} with shorter episodes (not comparable).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading

import numpy as np
import pytest
from scipy.stats import spearmanr
from transfer_fixtures import agent_runs, transfer_config

from darla.cli import main
from darla.errors import DarlaError
from darla.reuse import run_lock
from darla.stages import report as report_stage
from darla.stages.report import run_report
from darla.stages.transfer import run_transfer
from darla.transfer import render
from darla.transfer.aggregate import disentanglement_vs_transfer
from darla.transfer.stats import spearman_interval

FAST = ("videos=false",)


@pytest.fixture(scope="module")
def transfers(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("report")
    beta0, beta1, rand = agent_runs(root)

    def transfer(where, domains, agents, *extra):
        cfg = transfer_config(where, f"domains=[{','.join(domains)}]", *FAST, *extra)
        return run_transfer(cfg, [str(a) for a in agents], progress=False).run_dir

    a = transfer(root / "a", ["A_room1", "A_room2"], [beta0, rand])
    b = transfer(root / "b", ["A_room1", "A_room2", "B_room1"], [beta0, beta1])
    other = tmp_path_factory.mktemp("elsewhere")  # not under root: root holds only A and B
    c = transfer(other, ["A_room1", "A_room2"], [rand], "transfer.episode_steps=8")
    return {"root": root, "a": a, "b": b, "c": c, "out": tmp_path_factory.mktemp("reports")}


def report(transfers, *paths, **kwargs):
    return run_report([str(p) for p in paths], runs_root=transfers["out"], **kwargs)


# -- the statistics on exact inputs ------------------------------------------------------------


def test_spearman_of_perfectly_monotone_modules_is_one_with_a_collapsed_interval() -> None:
    up = spearman_interval([0.1, 0.2, 0.4, 0.8], [1.0, 2.0, 2.5, 9.0], reps=500, seed=3)
    assert up["value"] == pytest.approx(1.0)
    assert up["ci"] == pytest.approx([1.0, 1.0]) and up["reps"] == 500
    assert 0 < up["degenerate"] < 500  # resamples of one repeated module have no ρ
    down = spearman_interval([0.1, 0.2, 0.4, 0.8], [3.0, 2.0, 1.0, 0.0], reps=500, seed=3)
    assert down["value"] == pytest.approx(-1.0) and down["ci"] == pytest.approx([-1.0, -1.0])


def test_spearman_interval_is_scipys_rho_with_a_seeded_bootstrap() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=8).round(1), rng.integers(0, 3, size=8)  # ties on both sides
    first = spearman_interval(x, y, reps=300, seed=1)
    assert first["value"] == pytest.approx(spearmanr(x, y)[0])
    assert first["ci"][0] <= first["ci"][1]
    assert spearman_interval(x, y, reps=300, seed=1) == first
    assert spearman_interval(x, y, reps=300, seed=2)["ci"] != first["ci"]
    assert spearman_interval([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["value"] is None


def test_disentanglement_vs_transfer_correlates_each_score_across_modules() -> None:
    def agent(name, held):  # held-out score held; source score 0.5 (learned), return 2.5 above
        return {"name": name, "headline_score": held, "headline_return": 5 * held,
                "source_score": 0.5, "source_above_random": 2.5, "headline_above_random": 5 * held}  # fmt: skip

    # four modules: MIG ranks them as their agents' target return does, SAP the other way round
    returns = {"m0": [0.0, 0.2], "m1": [0.5], "m2": [1.0, 1.2], "m3": [2.0]}
    modules = {
        m: {
            "agents": [f"{m}-{i}" for i in range(len(rs))],
            "disentanglement": {"mig": 0.1 * k, "sap": 1 - 0.1 * k},
        }
        for k, (m, rs) in enumerate(returns.items())
    }
    results = {
        "agents": [agent(f"{m}-{i}", r) for m, rs in returns.items() for i, r in enumerate(rs)],
        "latent_shift": modules,
        "bootstrap": {"reps": 200, "seed": 0, "confidence": 0.95},
        "headline_domain": "A_room2",
    }
    data = disentanglement_vs_transfer(results)
    assert data["against"] == {"domain": "A_room2", "quantity": "score"}
    assert [r["headline_score"] for r in data["modules"]] == pytest.approx([0.1, 0.5, 1.1, 2.0])
    # a module's ratio is its agents' ratio of means: m0's (0 + 1) / 2 ÷ 2.5
    assert data["modules"][0]["transfer_ratio"] == pytest.approx(0.2)
    corr = data["spearman_with_headline"]
    assert corr["mig"]["value"] == pytest.approx(1.0) and corr["mig"]["ci"] == pytest.approx([1, 1])
    assert corr["sap"]["value"] == pytest.approx(-1.0)
    assert corr["mig"]["reps"] == 200
    del results["latent_shift"]["m3"], results["latent_shift"]["m2"]  # two modules: no ρ
    assert disentanglement_vs_transfer(results)["spearman_with_headline"] == {}


# -- merging real transfer runs ----------------------------------------------------------------


def test_report_of_two_runs_equals_the_report_of_their_parent_in_any_order(transfers) -> None:
    ab = report(transfers, transfers["a"], transfers["b"])
    text = (ab.run_dir / "results.json").read_text()
    ba = report(transfers, transfers["b"], transfers["a"], transfers["a"])
    assert ba.run_dir == ab.run_dir and (ba.run_dir / "results.json").read_text() == text
    parent = report(transfers, transfers["root"])  # finds A and B under the act and see runs
    assert parent.run_dir == ab.run_dir and (parent.run_dir / "results.json").read_text() == text
    assert ab.run_dir.parent == transfers["out"] / "report"
    other = report(transfers, transfers["a"], transfers["b"], reps=50)  # another bootstrap
    assert other.run_dir != ab.run_dir


def test_an_agent_in_two_runs_counts_once_and_only_shared_domains_are_compared(transfers) -> None:
    results = report(transfers, transfers["a"], transfers["b"]).results
    a = json.loads((transfers["a"] / "results.json").read_text())
    b = json.loads((transfers["b"] / "results.json").read_text())
    assert len(results["agents"]) == 3  # β-VAE 0 (in A and B), random (A), β-VAE 1 (B)
    assert len({x["manifest_sha256"] for x in results["agents"]}) == 3
    assert {m: v["runs"] for m, v in results["methods"].items()} == {"beta_vae": 2, "random": 1}
    (dup,) = results["duplicate_agents"]
    assert sorted(dup["runs"]) == sorted([a["run_key"], b["run_key"]])
    assert [d["name"] for d in results["domains"]] == ["A_room1", "A_room2"]
    assert results["dropped_domains"] == {"B_room1": [b["run_key"]]}
    for agent in results["agents"]:  # returns over the shared domains only
        assert set(agent["domains"]) == {"A_room1", "A_room2"}
        assert agent["source_return"] == agent["domains"]["A_room1"]["mean_return"]
        assert agent["headline_return"] == agent["domains"]["A_room2"]["mean_return"]
    assert results["headline_domain"] == "A_room2"
    assert results["methods"]["random"]["headline"]["transfer_ratio"]["ci"] is None  # 1 run
    # the β-VAE module's agents gathered from both runs (the random agent has its own encoder)
    shift = results["latent_shift"]
    assert sorted(len(m["agents"]) for m in shift.values()) == [1, 2]
    (module,) = [m for m in shift.values() if m["method"] == "beta_vae"]
    assert set(module["domains"]) == {"A_room1", "A_room2"}
    assert results["disentanglement_vs_transfer"]["modules"][0]["scores"] == {
        "mig": 0.25,
        "sap": 0.1,
    }
    page = (transfers["out"] / "report" / results["run_key"] / "report.md").read_text()
    assert "dropped: B_room1" in page and "counted once" in page


def test_one_run_reports_the_statistics_its_transfer_reported(transfers) -> None:
    mine = json.loads((transfers["a"] / "results.json").read_text())
    results = report(transfers, transfers["a"]).results
    assert results["methods"] == mine["methods"]
    assert results["disentanglement_vs_transfer"] == mine["disentanglement_vs_transfer"]
    assert results["agents"] == sorted(mine["agents"], key=lambda x: (x["method"], x["name"]))


def test_runs_evaluated_differently_are_refused_in_one_line(transfers) -> None:
    with pytest.raises(DarlaError) as error:
        report(transfers, transfers["c"], transfers["a"])
    message = str(error.value)
    assert "episode_steps (12 vs 8)" in message or "episode_steps (8 vs 12)" in message
    assert str(transfers["a"]) in message and str(transfers["c"]) in message
    assert "\n" not in message


def test_report_files_are_complete_and_the_html_self_contained(transfers) -> None:
    result = report(transfers, transfers["a"], transfers["b"])
    for name in ("report.md", "results.csv", "returns.png", "transfer_ratio.png",
                 "latent_shift.png", "disentanglement.png", "manifest.json"):  # fmt: skip
        assert (result.run_dir / name).is_file(), name
    assert len(list(result.run_dir.glob("recon_*.png"))) == 2  # copied from the transfer runs
    page = result.report_html.read_text()
    assert page.count("<img ") >= 5 and "Comparison report" in page
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:|videos/)", page)
    assert "A_room2 score (held out)" in page and "1 shared by 2 agents" in page
    assert not re.search(r"https?://|url\(|<script|<link|@import", page)
    assert "Spearman" in page and "bootstrap resamples of the modules" in page


def test_cli_prints_the_summary_then_the_report_path(transfers, capsys, tmp_path) -> None:
    out = tmp_path / "mine"
    assert main(["report", str(transfers["a"]), str(transfers["b"]), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"report: {out / 'report.html'}"
    assert lines[-2].startswith("reference policy") and lines[0].startswith("method")


def test_a_folder_that_is_not_a_report_is_never_written_into(transfers) -> None:
    with pytest.raises(DarlaError, match="not a darla report"):
        run_report([str(transfers["b"])], transfers["a"])  # would overwrite A's own report


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_second_report_replaces_the_first_and_keeps_a_users_files(transfers, tmp_path) -> None:
    out = tmp_path / "mine"
    run_report([str(transfers["a"]), str(transfers["b"])], out)
    assert len(list(out.glob("recon_*.png"))) == 2  # the β-VAE module and the random encoder
    (out / "notes.txt").write_text("my notes")
    run_report([str(transfers["b"])], out)  # B alone: one vision module, one reconstruction
    alone = report(transfers, transfers["b"])
    mine, theirs = _files(out), _files(alone.run_dir)
    manifest = json.loads(mine["manifest.json"])
    assert manifest["finished"] and set(manifest["files"]) == set(mine) - {"manifest.json"}
    assert mine.pop("notes.txt") == b"my notes"
    assert set(mine) == set(theirs)  # the random encoder's reconstruction is gone
    for name in ("report.md", "results.csv", "returns.png", *(n for n in mine if "recon_" in n)):
        assert mine[name] == theirs[name], name


def test_a_report_killed_while_writing_leaves_whole_files_and_is_redone(
    transfers, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "killed"
    run_report([str(transfers["a"])], out)
    (out / "notes.txt").write_text("my notes")
    before = _files(out)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "write_html", killed)  # the last page of the report
    with pytest.raises(KeyboardInterrupt):
        run_report([str(transfers["a"]), str(transfers["b"])], out)
    after = _files(out)
    assert set(before) <= set(after) and after["notes.txt"] == b"my notes"
    assert after["report.html"] == before["report.html"]  # the previous one, whole
    assert not json.loads(after["manifest.json"])["finished"]
    monkeypatch.undo()
    redone = run_report([str(transfers["a"]), str(transfers["b"])], out)
    assert json.loads((out / "manifest.json").read_text())["finished"]
    fresh = report(transfers, transfers["a"], transfers["b"])
    assert redone.report_html.read_bytes() == fresh.report_html.read_bytes()


def test_a_report_waits_for_whoever_holds_its_folders_lock(transfers, tmp_path, monkeypatch):
    out = tmp_path / "locked"
    events, errors, asked = [], [], threading.Event()

    @contextlib.contextmanager
    def watched(run_dir):
        assert run_dir == out
        events.append("report asks")
        asked.set()
        with run_lock(run_dir):
            events.append("report holds")
            yield

    def write_report() -> None:
        try:
            run_report([str(transfers["a"])], out)
        except BaseException as error:  # failed in the test's thread below
            errors.append(error)
        finally:
            asked.set()  # a report that never asked for the lock does not keep the test waiting

    monkeypatch.setattr(report_stage, "run_lock", watched)
    with run_lock(out):  # another `darla report`, or a sweep's, writing this folder
        worker = threading.Thread(target=write_report)
        worker.start()
        assert asked.wait(timeout=120)
        worker.join(timeout=0.2)
        assert worker.is_alive() and not out.exists()  # waiting, nothing written
        events.append("holder releases")
    worker.join()
    assert not errors, errors
    assert events == ["report asks", "holder releases", "report holds"]
    assert (out / "report.html").is_file() and (tmp_path / ".locked.lock").is_file()


@pytest.mark.parametrize("case", ["missing", "no_runs", "not_json", "edited", "wrong_shape"])
def test_bad_input_is_one_line(transfers, tmp_path, capsys, case) -> None:
    target = tmp_path / "run"
    if case == "missing":
        target = tmp_path / "no-such-folder"
    elif case == "no_runs":
        target = transfers["root"] / "act"  # finished runs, but no transfer run
    else:
        shutil.copytree(transfers["a"], target)
        path = target / "results.json"
        if case == "not_json":
            path.write_text('{"agents": [')
        elif case == "edited":
            path.write_text(path.read_text().replace('"A_room2"', '"A_room9"'))
        else:  # valid JSON, consistent with its manifest, missing what a report needs
            results = json.loads(path.read_text())
            del results["agents"][0]["domains"]["A_room2"]
            path.write_text(json.dumps(results))
            manifest = json.loads((target / "manifest.json").read_text())
            del manifest["files"]["results.json"]
            (target / "manifest.json").write_text(json.dumps(manifest))
    expected = {
        "missing": "does not exist",
        "no_runs": "holds no finished transfer run",
        "not_json": "is unreadable",
        "edited": "does not match the sha256 its manifest recorded",
        "wrong_shape": "not a complete transfer results file",
    }[case]
    with pytest.raises(DarlaError, match=expected) as error:
        report(transfers, target)
    assert "\n" not in str(error.value)
    assert main(["report", str(target), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("darla: error: ")
