"""A vision model built on a trained part is made by `darla see` from its declaration alone.

``ProbedVAE`` exists only here: a linear head over a frozen VAE's μ(x), declaring that VAE as a
:class:`~darla.vision.base.PretrainedPart`. No stage code names it, yet ``run_see`` trains (then
reuses) the part as its own see run, keys the model's run by the part's weights, takes a finished
run given as ``base_run=``, and ``see_run_dir`` and ``load_model`` agree with what it wrote.
"""

from __future__ import annotations

import re
from typing import ClassVar

import pytest
import torch
import yaml
from torch import nn
from vision_models import see_run, tiny_model

from darla.cli import main
from darla.config import compose, to_plain
from darla.errors import DarlaError
from darla.io import sha256_file
from darla.manifest import is_finished, read_manifest
from darla.stages.see import run_see, see_run_dir
from darla.vision import (
    BetaVAE,
    PretrainedPart,
    VisionModel,
    load_model,
    register_model,
    registry,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BASE = PretrainedPart(
    name="base",
    run_option="base_run",
    prefix="frozen_base.",
    kind=BetaVAE,
    what="base VAE",
    trained_by=("vae",),
    hint="pass base=<BetaVAE> or the path to its run",
)


class ProbedVAE(VisionModel):
    """A linear head over the μ(x) of a frozen, pretrained VAE."""

    pretrained: ClassVar[tuple[PretrainedPart, ...]] = (BASE,)
    generative: ClassVar[bool] = False

    def __init__(self, base: BetaVAE, image_size: int | None = None, width: int = 3) -> None:
        super().__init__()
        self._config = {
            "base": base.config,
            "image_size": base.config["image_size"],
            "width": width,
        }
        self.head = nn.Linear(base.latent_dim, width)
        self.hold_frozen(BASE, base)

    @property
    def latent_dim(self) -> int:
        return self._config["width"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        mu, _ = self.frozen_part(BASE).encode(x)
        return self.head(mu), None

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": self.encode(batch)[0].pow(2).mean()}


@pytest.fixture
def probed_vae():
    register_model("probed_vae", ProbedVAE)
    yield
    registry._REGISTRY.pop("probed_vae")  # a registration lasts the process: undo it


def config(root, **top) -> dict:
    cfg = to_plain(
        compose(
            "see",
            [
                "vision=vae",
                "data=shapes",
                "data.obs_size=32",
                "data.num_frames=64",
                f"runs_root={root}",
                "metrics.enabled=false",
                "train.steps=4",
                "train.batch_size=8",
                "train.checkpoint_every=2",
                "train.log_every=2",
                "train.image_every=2",
                "train.val_batches=1",
                "train.threads=1",
            ],
        )
    )
    base = {**cfg["vision"], "model": {**cfg["vision"]["model"], "latent_dim": 4, "hidden_dim": 32}}
    return {**cfg, "vision": {"name": "probed_vae", "model": {"width": 3}, "base": base}, **top}


@pytest.mark.usefixtures("probed_vae")
def test_a_declared_part_is_trained_as_its_own_see_run_then_reused(tmp_path, capsys) -> None:
    cfg = config(tmp_path)
    assert see_run_dir(cfg) is None  # its key holds the part's weights: unknown before they exist

    first = run_see(cfg, progress=False)
    assert first.run_dir.name.startswith("probed_vae-") and not first.reused
    assert list(first.part_runs) == ["base"]
    base = first.part_runs["base"]
    assert base.run_dir.name.startswith("vae-") and is_finished(base.run_dir) and not base.reused
    assert first.all_part_runs() == [("base", base)]  # what `darla run` lists as a stage
    # the part's weights are an input of the key, by the digest its manifest recorded
    manifest = read_manifest(first.run_dir)
    assert manifest["inputs"]["base_sha256"] == base.weights.sha256
    assert base.weights.sha256 == sha256_file(base.run_dir / "model.safetensors")
    recorded = yaml.safe_load((first.run_dir / "config.yaml").read_text())
    assert recorded["vision"]["model"]["base"] == str(base.weights.path)
    assert see_run_dir(cfg) == first.run_dir

    # one file restores the model with its frozen part, rebuilt from the saved config
    loaded, part = load_model(first.run_dir), load_model(base.run_dir)
    for key, value in part.tensors_to_save().items():
        assert torch.equal(loaded.tensors_to_save()[BASE.prefix + key], value), key

    again = run_see(cfg, progress=False)
    assert again.reused and again.run_dir == first.run_dir
    assert again.part_runs["base"].reused and again.part_runs["base"].run_dir == base.run_dir
    out = capsys.readouterr().out
    assert "see vae: reused" in out and "see probed_vae: reused" in out

    # a finished run named as the part's option: the same key, so the same run, reused
    given = run_see(config(tmp_path, base_run=str(base.run_dir)), progress=False)
    assert given.reused and given.run_dir == first.run_dir and given.part_runs == {}
    assert see_run_dir(config(tmp_path, base_run=str(base.run_dir))) == first.run_dir


@pytest.mark.usefixtures("probed_vae")
def test_a_bad_part_run_is_one_line_before_any_frame(tmp_path) -> None:
    missing = (
        "base_run /nowhere has no model.safetensors; train one with `darla see vision=vae` or "
        "drop base_run"
    )
    with pytest.raises(DarlaError, match=re.escape(missing)):
        run_see(config(tmp_path, base_run="/nowhere"), progress=False)
    without = config(tmp_path)
    del without["vision"]["base"]
    with pytest.raises(DarlaError, match=re.escape("configure it as vision.base")):
        run_see(without, progress=False)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("model", "tamper", "message"),
    [
        ("vae", False, "holds a vae model, not a DAE; point it at a `vision=dae` run"),
        (
            "dae",
            False,
            "was trained on 32px frames but data.obs_size is 64; set data.obs_size=32 "
            "or train a DAE at 64px",
        ),
        ("dae", True, "changed since it was written"),
    ],
)
def test_a_named_part_run_is_checked_against_the_declaration_and_its_manifest(
    model, tamper, message, tmp_path, capsys
) -> None:
    run = see_run(tmp_path / "given", tiny_model(model))
    if tamper:
        with open(run / "model.safetensors", "ab") as f:
            f.write(b"\0")
    code = main(["see", f"runs_root={tmp_path}", f"dae_run={run}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and message in err
    assert not (tmp_path / "data").exists()
