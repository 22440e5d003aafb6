"""The vision sweep: `strength=K` picks a model's main hyperparameter from its grid, and
`darla report` over vision runs reduces seeds to each metric's median and range per model and
strength, next to the published ranges."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_see_cli import darla

from darla.config import compose, to_plain
from darla.errors import DarlaError
from darla.metrics.published import DSPRITES
from darla.stages.see import see_run_dir, strength_setting
from darla.stages.vision_report import VisionRun, format_markdown, vision_table
from darla.vision import read_config
from darla.vision.training.inputs import complete_model_kwargs


def see_config(tmp_path, *overrides):
    return to_plain(compose("see", [f"runs_root={tmp_path}", *overrides]))


def test_strength_sets_the_models_knob_and_keys_the_run_by_the_value(tmp_path) -> None:
    by_index = see_config(tmp_path, "vision=beta_vae", "strength=2")
    by_value = see_config(tmp_path, "vision=beta_vae", "vision.model.beta=4.0")
    other = see_config(tmp_path, "vision=beta_vae", "strength=3")
    assert strength_setting(by_index["vision"], 2) == ("beta", 4.0)
    assert see_run_dir(by_index) == see_run_dir(by_value)
    assert see_run_dir(other) != see_run_dir(by_index)
    annealed = see_config(tmp_path, "vision=annealed_vae")
    assert strength_setting(annealed["vision"], 5) == ("capacity_max", 100.0)
    factor = see_config(tmp_path, "vision=factor_vae")
    assert strength_setting(factor["vision"], 0) == ("gamma", 10.0)


@pytest.mark.parametrize(
    ("vision", "strength", "message"),
    [
        ("beta_vae", 6, "use 0 to 5"),
        ("beta_vae", -1, "use 0 to 5"),
        ("dae", 0, "vision=dae has no strength grid"),
        ("vae", 1, "vision=vae has no strength grid"),
    ],
)
def test_a_strength_outside_the_grid_is_refused(tmp_path, vision, strength, message) -> None:
    cfg = see_config(tmp_path, f"vision={vision}")
    with pytest.raises(DarlaError, match=message):
        strength_setting(cfg["vision"], strength)


def test_data_shapes_selects_the_shapes_with_the_usual_data_settings(tmp_path) -> None:
    shapes = see_config(tmp_path, "data=shapes")["data"]
    assert shapes["dataset"] == "shapes"
    assert shapes == {**see_config(tmp_path)["data"], "dataset": "shapes"}


def test_the_capacity_reaches_its_maximum_three_quarters_into_training(tmp_path) -> None:
    for steps, end in ((4000, 3000), (1000, 750), (10, 7)):
        cfg = see_config(tmp_path, "vision=annealed_vae", f"train.steps={steps}")
        kwargs = complete_model_kwargs("annealed_vae", dict(cfg["vision"]["model"]), cfg)
        assert kwargs["capacity_end"] == end
    cfg = see_config(tmp_path, "vision=annealed_vae", "vision.model.capacity_end=123")
    assert (
        complete_model_kwargs("annealed_vae", dict(cfg["vision"]["model"]), cfg)["capacity_end"]
        == 123
    )


def run(
    model="beta_vae", value=1.0, seed=0, scores=None, *, steps=1000, variant="{}", dataset="shapes"
):
    return VisionRun(
        run_dir=Path(f"/runs/see/{model}-{value}-{seed}-{steps}-{variant}-{dataset}"),
        model=model,
        dataset=dataset,
        knob="beta",
        value=value,
        variant=variant,
        seed=seed,
        settings={"train": {"steps": steps, "batch_size": 64}, "obs_size": 32, "metrics": {}},
        scores=scores if scores is not None else {"mig": 0.1},
        sha256=f"{model}{value}{seed}",
    )


def test_seeds_reduce_to_the_median_and_range_of_each_metric() -> None:
    runs = [
        run(value=4.0, seed=s, scores={"mig": m, "sap": p})
        for s, (m, p) in enumerate([(0.2, 0.05), (0.9, 0.01), (0.4, 0.03)])
    ]
    runs.append(run(value=1.0, seed=0, scores={"mig": 0.7}))
    table = vision_table(runs)
    rows = table["datasets"]["shapes"]["rows"]
    assert [r["row"] for r in rows] == ["beta_vae beta=1", "beta_vae beta=4"]
    strong = rows[1]
    assert strong["seeds"] == [0, 1, 2]
    assert strong["scores"]["mig"] == {"median": 0.4, "min": 0.2, "max": 0.9, "n": 3}
    assert strong["scores"]["sap"]["median"] == pytest.approx(0.03)
    assert "sap" not in rows[0]["scores"]  # a metric a run did not compute is not invented
    assert table["datasets"]["shapes"]["published"]["ranges"]["mig"] == list(DSPRITES["mig"])
    markdown = format_markdown(table)
    assert "| beta_vae beta=4 | 3 | 0.40 (0.20-0.90) | 0.03 (0.01-0.05) |" in markdown
    assert "*published, dSprites*" in markdown and "Locatello" in markdown


def test_rows_that_differ_beyond_the_knob_are_told_apart() -> None:
    table = vision_table(
        [run(variant='{"latent_dim": 10}'), run(variant='{"latent_dim": 32}', seed=1)]
    )
    labels = [r["row"] for r in table["datasets"]["shapes"]["rows"]]
    assert len(labels) == 2 and labels[0] != labels[1]
    assert all("latent_dim" in label for label in labels)
    # the same model and value on two datasets sit in two tables: nothing to tell apart
    table = vision_table([run(variant='{"a": 1}'), run(variant='{"a": 2}', dataset="env:A")])
    assert [t["rows"][0]["row"] for t in table["datasets"].values()] == ["beta_vae beta=1"] * 2


def test_runs_trained_differently_are_refused_in_one_line() -> None:
    with pytest.raises(DarlaError, match=r"differ in train \(steps: 2000 vs 1000\)"):
        vision_table([run(seed=0), run(seed=1, steps=2000)])


@pytest.mark.slow
def test_a_see_sweep_ends_with_the_table_of_its_runs(tmp_path) -> None:
    runs_root = tmp_path / "runs"
    swept = darla(
        "see",
        "-m",
        "experiment=vision_sweep",
        "data.dataset=shapes",
        "vision=beta_vae",
        "strength=0,5",
        "seed=0,1",
        "train.steps=10",
        "train.batch_size=16",
        "metrics.names=[mig,sap]",
        f"runs_root={runs_root}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert swept.returncode == 0, swept.stderr[-3000:]
    report_line = [line for line in swept.stdout.splitlines() if line.startswith("report: ")]
    assert report_line, swept.stdout[-3000:]
    table_dir = Path(report_line[-1].removeprefix("report: ")).parent
    table_dir = table_dir if table_dir.is_absolute() else tmp_path / table_dir
    table = json.loads((table_dir / "vision_table.json").read_text())

    outcomes = sorted((tmp_path / "sweep").glob("*/outcome.json"))
    assert len(outcomes) == 4
    by_beta: dict[float, list[float]] = {}
    for outcome in outcomes:
        run_dir = Path(json.loads(outcome.read_text())["vision_run"])
        run_dir = run_dir if run_dir.is_absolute() else tmp_path / run_dir
        # the β the weights were built with, as the saved model records it
        beta = read_config(run_dir)["beta"]
        mig = json.loads((run_dir / "metrics.json").read_text())["mig"]["scores"]["mig"]
        by_beta.setdefault(beta, []).append(mig)
    assert {beta: len(migs) for beta, migs in by_beta.items()} == {1.0: 2, 16.0: 2}  # strength 0, 5
    rows = {r["value"]: r for r in table["datasets"]["shapes"]["rows"]}
    assert sorted(rows) == [1.0, 16.0]
    for beta, migs in by_beta.items():
        assert rows[beta]["scores"]["mig"]["median"] == pytest.approx(float(np.median(migs)))
        assert rows[beta]["seeds"] == [0, 1]
    assert (table_dir / "vision_table.md").read_text() in swept.stdout

    again = darla("report", str(tmp_path / "sweep"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    again_dir = Path(again.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent
    assert (tmp_path / again_dir).resolve() == table_dir.resolve()  # same runs, same table
