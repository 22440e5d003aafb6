"""A frozen encoder stays frozen in plain SB3 use: ortho_init, train(), the optimizer, DQN's target."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from act_fixtures import FROZEN_VISION, SIZE, tiny_model, vision_run
from stable_baselines3 import DQN, PPO

import envs
from darla.agents import DarlaFeaturesExtractor, LatentVecEnv, make_vec_env, random_encoder
from darla.vision import FrozenEncoder, load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pixel_env(n_envs: int = 2, seed: int = 0):
    return make_vec_env(
        envs.source_domains(), n_envs, seed, {"obs_size": SIZE, "max_episode_steps": 20}
    )


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.tensors_to_save().items()}


def assert_identical(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.tensors_to_save()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed"


def extractor_of(policy) -> DarlaFeaturesExtractor:
    return policy.features_extractor


@pytest.mark.parametrize("name", [*FROZEN_VISION, "random"])
def test_ppo_ortho_init_and_learn_leave_frozen_extractor_bit_identical(tmp_path, name) -> None:
    if name == "random":
        vision = random_encoder(0, SIZE, latent_dim=6, hidden_dim=32)
    else:
        vision = vision_run(tmp_path, name)
    reference = load_model(vision) if name != "random" else vision
    before = snapshot(reference)
    venv = pixel_env()
    model = PPO(
        "CnnPolicy", venv, n_steps=16, batch_size=16, n_epochs=2, seed=0,
        policy_kwargs={"features_extractor_class": DarlaFeaturesExtractor,
                       "features_extractor_kwargs": {"vision": vision}, "ortho_init": True},
    )  # fmt: skip
    encoder = extractor_of(model.policy).vision_model
    assert_identical(encoder, before)  # ortho_init did not re-initialise it
    encoder_params = {id(p) for p in encoder.parameters()}
    optimised = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert not encoder_params & optimised
    assert not any("encoder" in k for k in model.policy.state_dict())
    model.learn(64)
    model.policy.set_training_mode(True)
    assert not encoder.training and not any(m.training for m in encoder.modules())
    assert_identical(encoder, before)
    venv.close()


@pytest.mark.parametrize("name", FROZEN_VISION)
def test_dqn_online_and_target_hold_the_same_frozen_weights(tmp_path, name) -> None:
    run = vision_run(tmp_path, name)
    before = snapshot(load_model(run))
    venv = pixel_env()
    model = DQN(
        "CnnPolicy", venv, buffer_size=500, learning_starts=16, batch_size=8, train_freq=2,
        target_update_interval=8, seed=0,
        policy_kwargs={"features_extractor_class": DarlaFeaturesExtractor, "features_extractor_kwargs": {"vision": str(run)}},
    )  # fmt: skip
    model.learn(80)
    online = extractor_of(model.policy.q_net).vision_model
    target = extractor_of(model.policy.q_net_target).vision_model
    assert online is not target
    assert_identical(online, before)
    assert_identical(target, before)
    optimised = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert not {id(p) for p in online.parameters()} & optimised
    venv.close()


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_wrapper_agents_never_touch_the_encoder(tmp_path, agent) -> None:
    encoder = tiny_model("darla")
    before = snapshot(encoder)
    venv = LatentVecEnv(pixel_env(), encoder)
    if agent == "ppo":
        model = PPO(
            "MlpPolicy", venv, n_steps=16, batch_size=16, seed=0, policy_kwargs={"ortho_init": True}
        )
    else:
        model = DQN("MlpPolicy", venv, buffer_size=500, learning_starts=16, batch_size=8, seed=0)
    model.learn(64)
    assert_identical(encoder, before)
    assert not encoder.training
    assert all(not p.requires_grad for p in encoder.parameters())
    venv.close()


def test_wrapper_latents_equal_extractor_features(tmp_path) -> None:
    run = vision_run(tmp_path, "darla")
    venv = pixel_env(3)
    wrapped = LatentVecEnv(venv, load_model(run))
    latents = wrapped.reset()
    frames = wrapped.last_frames
    assert latents.shape == (3, 6) and latents.dtype == np.float32
    model = PPO(
        "CnnPolicy", pixel_env(1), n_steps=16, batch_size=16, seed=0,
        policy_kwargs={"features_extractor_class": DarlaFeaturesExtractor, "features_extractor_kwargs": {"vision": str(run)}},
    )  # fmt: skip
    obs_tensor, _ = model.policy.obs_to_tensor(frames)  # SB3's own path: transpose, /255
    with torch.no_grad():
        features = model.policy.extract_features(obs_tensor, model.policy.features_extractor)
    np.testing.assert_allclose(features.numpy(), latents, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(FrozenEncoder(load_model(run))(frames), latents)
    # a step's latents too, including the truncated episodes' last frames
    for _ in range(20):
        _, _, dones, infos = wrapped.step(np.zeros(3, dtype=np.int64))
    assert dones.all() and all(info["terminal_observation"].shape == (6,) for info in infos)
    wrapped.close()
    model.env.close()


def test_darla_ft_fine_tunes_the_encoder_from_its_pretrained_weights(tmp_path) -> None:
    run = vision_run(tmp_path, "darla")
    before = snapshot(load_model(run))
    venv = pixel_env()
    model = PPO(
        "CnnPolicy", venv, n_steps=16, batch_size=16, n_epochs=2, seed=0,
        policy_kwargs={"features_extractor_class": DarlaFeaturesExtractor,
                       "features_extractor_kwargs": {"vision": str(run), "trainable": True}, "ortho_init": True},
    )  # fmt: skip
    encoder = extractor_of(model.policy).vision_model
    assert_identical(encoder, before)  # ortho_init skipped the pretrained encoder
    optimised = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in encoder.trunk.parameters()} <= optimised
    model.learn(64)
    assert not torch.equal(encoder.trunk.conv1.weight, before["trunk.conv1.weight"])
    assert torch.equal(encoder.dae.trunk.conv1.weight, before["frozen_dae.trunk.conv1.weight"])
    venv.close()


def test_extractor_refuses_an_encoder_of_another_frame_size(tmp_path) -> None:
    from gymnasium import spaces

    from darla.errors import DarlaError

    run = vision_run(tmp_path, "beta_vae")
    with pytest.raises(DarlaError, match="32x32 frames but the env gives 64x64"):
        DarlaFeaturesExtractor(spaces.Box(0, 255, (3, 64, 64), np.uint8), vision=str(run))
    with pytest.raises(DarlaError, match=r"act\.obs_size=32"):
        LatentVecEnv(make_vec_env(["A_room1"], 1, 0, {"obs_size": 64}), load_model(run))


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_a_stacked_agent_leaves_the_frozen_encoder_bit_identical(tmp_path, agent) -> None:
    """Four stacked frames through the frozen extractor, and four stacked latents of the
    wrapper: the encoder stays as it was loaded in both."""
    from stable_baselines3.common.vec_env import VecFrameStack

    run = vision_run(tmp_path, "darla")
    before = snapshot(load_model(run))
    pixels = VecFrameStack(pixel_env(), 4, channels_order="last")
    extractor = {"features_extractor_class": DarlaFeaturesExtractor,
                 "features_extractor_kwargs": {"vision": str(run)}}  # fmt: skip
    if agent == "ppo":
        model = PPO("CnnPolicy", pixels, n_steps=16, batch_size=16, n_epochs=2, seed=0,
                    policy_kwargs={**extractor, "ortho_init": True})  # fmt: skip
        extractors = [extractor_of(model.policy)]
    else:
        model = DQN("CnnPolicy", pixels, buffer_size=500, learning_starts=16, batch_size=8,
                    train_freq=2, target_update_interval=8, seed=0, policy_kwargs=extractor)  # fmt: skip
        extractors = [extractor_of(model.policy.q_net), extractor_of(model.policy.q_net_target)]
    assert all(e.features_dim == 4 * 6 and e.frames == 4 for e in extractors)
    encoders = [e.vision_model for e in extractors]
    for encoder in encoders:
        assert_identical(encoder, before)  # ortho_init did not re-initialise it
    model.learn(64)
    model.policy.set_training_mode(True)
    optimised = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    for encoder in encoders:
        assert_identical(encoder, before)
        assert not encoder.training and not {id(p) for p in encoder.parameters()} & optimised
    pixels.close()

    latent_encoder = load_model(run)
    latents = VecFrameStack(LatentVecEnv(pixel_env(), latent_encoder), 4)
    PPO("MlpPolicy", latents, n_steps=16, batch_size=16, seed=0).learn(64)
    assert_identical(latent_encoder, before)
    latents.close()


def test_stacked_extractor_features_equal_stacked_wrapper_latents(tmp_path) -> None:
    """The extractor encodes K stacked frames one by one, oldest first: the layout of a frame
    stack over the wrapper's latents. Only the padding of an episode's first K - 1 steps
    differs: black frames (whose μ is not 0) there, zero latents here."""
    from stable_baselines3.common.vec_env import VecFrameStack, VecTransposeImage

    run = vision_run(tmp_path, "darla")
    latents_env = VecFrameStack(LatentVecEnv(pixel_env(), load_model(run)), 4)
    pixels_env = VecTransposeImage(VecFrameStack(pixel_env(), 4, channels_order="last"))
    latents, frames = latents_env.reset(), pixels_env.reset()
    extractor = DarlaFeaturesExtractor(pixels_env.observation_space, vision=str(run))
    for step in range(4):
        features = extractor(torch.as_tensor(frames).float() / 255).detach().numpy()
        assert features.shape == latents.shape == (2, 24)
        seen = (step + 1) * 6  # the newest step + 1 slots hold this episode's frames
        np.testing.assert_allclose(features[:, -seen:], latents[:, -seen:], rtol=0, atol=1e-6)
        assert not latents[:, :-seen].any()
        action = np.array([2, 1])
        latents, frames = latents_env.step(action)[0], pixels_env.step(action)[0]
    latents_env.close()
    pixels_env.close()
