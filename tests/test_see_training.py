"""The vision training loop: exact resume after an interruption (every model), the NaN guard,
checkpoints."""

import numpy as np
import pytest
import torch
from vision_models import SETTINGS, assert_same_state, shapes_data, tiny_model, trainer_inputs

from darla.errors import DarlaError
from darla.vision import model_names
from darla.vision.training.trainer import TrainSettings, latest_vision_checkpoint, train_vision

SEED = 3

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Interrupt(Exception):
    pass


def _train(name, run_dir, stop_at=None):
    """Train a tiny ``name`` on Shapes2D for SETTINGS.steps (resuming from ``run_dir``'s
    checkpoint), raising Interrupt after step ``stop_at``."""
    frames, factors = shapes_data(64)
    model = tiny_model(name)

    def interrupt(done, _terms):
        if done == stop_at:
            raise Interrupt

    train_vision(
        model, frames, np.arange(48), np.arange(48, 64), SETTINGS, run_dir, seed=SEED,
        progress=False, callbacks=[interrupt],
        **trainer_inputs(name, factors, SETTINGS.batch_size, SEED),
    )  # fmt: skip
    return model


@pytest.mark.parametrize("name", model_names())
def test_resume_after_interruption_equals_an_uninterrupted_run(name, tmp_path):
    """Every parameter and buffer (batch norm statistics, spectral norm's vectors) and every
    optimizer's state, both Adams of a model with a discriminator included. Each step's draws
    (noise, augmentations, label dropout, clamped batches) come from (seed, step) and the
    schedules from the step, so a resumed run repeats them."""
    reference = _train(name, tmp_path / "whole")
    with pytest.raises(Interrupt):
        _train(name, tmp_path / "killed", stop_at=4)
    checkpoint = latest_vision_checkpoint(tmp_path / "killed")
    assert checkpoint.name == "step_00000003.pt"
    saved = torch.load(checkpoint, weights_only=True)["optimizers"]
    two = name in ("factor_vae", "infogan")
    assert set(saved) == ({"model", "discriminator"} if two else {"model"})
    resumed = _train(name, tmp_path / "killed")
    assert_same_state(resumed.tensors_to_save(), reference.tensors_to_save())
    last = latest_vision_checkpoint(tmp_path / "killed")
    assert last.name == "step_00000006.pt"
    assert_same_state(
        torch.load(last, weights_only=True),
        torch.load(latest_vision_checkpoint(tmp_path / "whole"), weights_only=True),
    )


def test_a_checkpoint_with_the_older_single_optimizer_layout_still_resumes(tmp_path):
    reference = _train("beta_vae", tmp_path / "whole")
    with pytest.raises(Interrupt):
        _train("beta_vae", tmp_path / "old", stop_at=4)
    path = latest_vision_checkpoint(tmp_path / "old")
    state = torch.load(path, weights_only=True)
    state["optimizer"] = state.pop("optimizers")["model"]  # as written before `optimizers`
    torch.save(state, path)
    resumed = _train("beta_vae", tmp_path / "old")
    assert_same_state(resumed.state_dict(), reference.state_dict())


def test_tensorboard_events_are_written(tmp_path):
    _train("beta_vae", tmp_path / "run")
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    model = tiny_model("beta_vae")
    real_loss, calls = model.loss, []

    def loss(batch):
        calls.append(1)
        terms = real_loss(batch)
        if len(calls) == 5:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    model.loss = loss
    with pytest.raises(DarlaError, match=r"loss became nan at step 4.*step_00000003.pt is kept"):
        train_vision(
            model,
            shapes_data(64)[0],
            np.arange(48),
            np.arange(48, 64),
            SETTINGS,
            tmp_path,
            seed=0,
            progress=False,
        )
    assert latest_vision_checkpoint(tmp_path).name == "step_00000003.pt"


def test_bad_training_settings_fail_clearly():
    with pytest.raises(DarlaError, match=r"train\.steps=0: use a whole number >= 1"):
        TrainSettings(
            steps=0,
            batch_size=8,
            lr=1e-3,
            checkpoint_every=1,
            log_every=1,
            image_every=1,
            val_batches=1,
        )
    with pytest.raises(DarlaError, match=r"train\.lr=0.0: use a number > 0"):
        TrainSettings(
            steps=1,
            batch_size=8,
            lr=0,
            checkpoint_every=1,
            log_every=1,
            image_every=1,
            val_batches=1,
        )
