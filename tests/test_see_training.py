"""The vision training loop: exact resume after an interruption, the NaN guard, checkpoints."""

import numpy as np
import pytest
import torch

import envs
from darla.errors import DarlaError
from darla.stages.vision_trainer import TrainSettings, latest_checkpoint, train_vision
from darla.vision import build_model

SETTINGS = TrainSettings(
    steps=6, batch_size=8, lr=1e-3, checkpoint_every=3, log_every=2, image_every=3, val_batches=1
)


@pytest.fixture(scope="module")
def frames():
    data = envs.Shapes2D(image_size=32)
    return data.render(data.sample_factors(64, np.random.default_rng(0)))


def _train(frames, run_dir, callbacks=()):
    torch.manual_seed(0)
    model = build_model("beta_vae", image_size=32, latent_dim=4, hidden_dim=32)
    train_vision(
        model, frames, np.arange(48), np.arange(48, 64), SETTINGS, run_dir, seed=3,
        progress=False, callbacks=callbacks,
    )  # fmt: skip
    return model


class Interrupt(Exception):
    pass


def _interrupt_at(step):
    def callback(done, _terms):
        if done == step:
            raise Interrupt

    return callback


def test_resume_after_interruption_equals_an_uninterrupted_run(frames, tmp_path):
    reference = _train(frames, tmp_path / "whole")
    with pytest.raises(Interrupt):
        _train(frames, tmp_path / "killed", callbacks=[_interrupt_at(4)])
    assert latest_checkpoint(tmp_path / "killed").name == "step_00000003.pt"
    resumed = _train(frames, tmp_path / "killed")
    for (name, a), (_, b) in zip(
        reference.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert latest_checkpoint(tmp_path / "killed").name == "step_00000006.pt"


def test_tensorboard_events_are_written(frames, tmp_path):
    _train(frames, tmp_path / "run")
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(frames, tmp_path):
    torch.manual_seed(0)
    model = build_model("beta_vae", image_size=32, latent_dim=4, hidden_dim=32)
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
            frames,
            np.arange(48),
            np.arange(48, 64),
            SETTINGS,
            tmp_path,
            seed=0,
            progress=False,
        )
    assert latest_checkpoint(tmp_path).name == "step_00000003.pt"


def test_bad_training_settings_fail_clearly():
    with pytest.raises(DarlaError, match=r"train\.steps must be at least 1"):
        TrainSettings(
            steps=0,
            batch_size=8,
            lr=1e-3,
            checkpoint_every=1,
            log_every=1,
            image_every=1,
            val_batches=1,
        )
    with pytest.raises(DarlaError, match=r"train\.lr must be positive"):
        TrainSettings(
            steps=1,
            batch_size=8,
            lr=0,
            checkpoint_every=1,
            log_every=1,
            image_every=1,
            val_batches=1,
        )
