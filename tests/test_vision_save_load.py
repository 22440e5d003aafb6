"""save_model -> load_model restores the exact vision module from one safetensors file, for every
registered model; a saved run of each newer model is a frozen representation for `darla act`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from act_fixtures import FROZEN_VISION, act_config
from safetensors import safe_open
from safetensors.torch import save_file
from vision_models import assert_same_state, loss_inputs, see_run, shapes_data, tiny_model

from darla.errors import DarlaError
from darla.vision import (
    WEIGHTS_NAME,
    images_to_tensor,
    load_model,
    model_names,
    read_config,
    save_model,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", model_names())
def test_save_load_restores_every_tensor_and_gives_identical_latent_mean(tmp_path, name) -> None:
    frames, factors = shapes_data(64)
    model = tiny_model(name).eval()
    # Every tensor off its initialisation (weights, batch norm statistics, spectral norm's vectors,
    # a frozen DAE or visual model), so a silent re-init or a tensor left unsaved could not pass.
    with torch.no_grad():
        for tensor in model.tensors_to_save().values():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn_like(tensor))
    path = save_model(model, tmp_path / "run")
    assert path == tmp_path / "run" / WEIGHTS_NAME
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [WEIGHTS_NAME]  # no temp left
    loaded = load_model(tmp_path / "run")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    assert_same_state(loaded.tensors_to_save(), model.tensors_to_save())
    assert np.array_equal(loaded.latent_mean(frames), model.latent_mean(frames))
    x, extra = images_to_tensor(frames[:8]), loss_inputs(name, factors[:8])
    g = torch.Generator
    torch.testing.assert_close(
        loaded.loss(x, generator=g().manual_seed(0), **extra)["loss"],
        model.loss(x, generator=g().manual_seed(0), **extra)["loss"],
        rtol=0,
        atol=0,
    )


# The models that came before these have theirs in test_agents_frozen.py.
@pytest.mark.parametrize("name", [n for n in model_names() if n not in FROZEN_VISION])
def test_act_takes_a_saved_run_as_a_frozen_representation(name, tmp_path) -> None:
    from darla.stages.act import run_act

    run = see_run(tmp_path, tiny_model(name))
    result = run_act(act_config(tmp_path, "vision_run", vision=run, steps=40), progress=False)
    assert result.finished and result.run_dir.name.startswith(f"{name}-ppo-")


def test_darla_file_holds_its_dae(tmp_path) -> None:
    model = tiny_model("darla")
    with torch.no_grad():
        model.dae.bottleneck.weight.mul_(3.0)  # differs from any fresh DAE
    path = save_model(model, tmp_path / "darla.safetensors")
    assert path == tmp_path / "darla.safetensors"
    loaded = load_model(path)
    for key, value in model.dae.state_dict().items():
        assert torch.equal(loaded.dae.state_dict()[key], value)
    assert all(not p.requires_grad for p in loaded.dae.parameters())
    assert not {id(p) for p in loaded.dae.parameters()} & {id(p) for p in loaded.parameters()}
    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()["darla"])
        assert any(k.startswith("frozen_dae.") for k in f.keys())  # noqa: SIM118
    config = json.loads(meta["config"])
    assert config["name"] == "darla" and config["dae"]["name"] == "dae"
    assert read_config(path) == model.config


def test_missing_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(DarlaError, match=r"no vision model at .*run `darla see` first"):
        load_model(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file_is_a_user_error(tmp_path, damage: str) -> None:
    path = save_model(tiny_model("vae"), tmp_path)
    blob = path.read_bytes()
    data = {"garbage": b"not a model at all", "truncated": blob[: len(blob) // 2], "empty": b""}
    path.write_bytes(data[damage])
    with pytest.raises(DarlaError, match="corrupt, truncated or from another tool") as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_foreign_safetensors_file_is_a_user_error(tmp_path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(DarlaError, match="not a readable darla vision model"):
        load_model(path)


def rewrite_config(path: Path, edit) -> None:
    """Change the model config stored in a saved file, weights untouched."""
    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()["darla"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    config = json.loads(meta["config"])
    edit(config)
    meta["config"] = json.dumps(config)
    save_file(tensors, path, metadata={"darla": json.dumps(meta)})


def test_weights_that_do_not_fit_the_config_are_a_user_error(tmp_path) -> None:
    path = save_model(tiny_model("vae"), tmp_path)
    rewrite_config(path, lambda config: config.update(latent_dim=3))
    with pytest.raises(DarlaError, match="weights that do not fit its config"):
        load_model(path)


def test_a_darla_file_from_before_decoder_and_output_were_choices_loads_as_it_was(tmp_path) -> None:
    """Such files hold transposed convs whose output J saw through a sigmoid."""
    model = tiny_model("darla", decoder="transposed", output="sigmoid").eval()
    path = save_model(model, tmp_path)

    def as_before(config: dict) -> None:
        del config["decoder"], config["output"]

    rewrite_config(path, as_before)
    loaded = load_model(path)
    assert (loaded.config["decoder"], loaded.config["output"]) == ("transposed", "sigmoid")
    z = torch.randn(3, model.latent_dim)
    torch.testing.assert_close(loaded.decode(z), model.decode(z), rtol=0, atol=0)
    x = torch.rand(2, 3, loaded.config["image_size"], loaded.config["image_size"])
    g = torch.Generator
    torch.testing.assert_close(
        loaded.loss(x, generator=g().manual_seed(0))["loss"],
        model.loss(x, generator=g().manual_seed(0))["loss"],
        rtol=0,
        atol=0,
    )


def test_a_file_with_the_fields_as_separate_entries_still_loads(tmp_path) -> None:
    """The layout before the single ``darla`` entry: runs written then stay usable."""
    model = tiny_model("beta_vae")
    path = save_model(model, tmp_path)
    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()["darla"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(tensors, path, metadata=meta)
    assert read_config(path) == model.config
    assert_same_state(load_model(path).state_dict(), model.state_dict())


SAVE_IN_A_NEW_PROCESS = """
import sys
sys.path.insert(0, "tests")
from vision_models import tiny_model
from darla.vision import save_model
save_model(tiny_model("darla", seed=3), sys.argv[1])
"""


def test_the_same_weights_give_the_same_bytes_in_every_process(tmp_path) -> None:
    """Runs downstream are keyed by the file's sha256; safetensors orders a metadata map
    differently in each process, so a file must not depend on that order."""
    digests = set()
    for i in range(3):
        target = tmp_path / f"m{i}.safetensors"
        subprocess.run(
            [sys.executable, "-c", SAVE_IN_A_NEW_PROCESS, str(target)],
            check=True,
            cwd=Path(__file__).parent.parent,
        )
        digests.add(hashlib.sha256(target.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_load_to_auto_device(tmp_path) -> None:
    save_model(tiny_model("beta_vae"), tmp_path)
    model = load_model(tmp_path, device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device.type == expected
