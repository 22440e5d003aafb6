"""pixels_aug: DrQ's random shift and RAD's colour jitter on frame stacks, in PPO's update only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from act_fixtures import act_config
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import NatureCNN
from test_act_errors import fails

from darla.agents.algos import policy_class, policy_kwargs, policy_spec
from darla.agents.augmentation import AugmentedNatureCNN, StackAugmentation
from darla.agents.env import make_vec_env

SIZE = 40  # NatureCNN needs at least 36 px


def stacks(batch: int = 6, frames: int = 4, seed: int = 0) -> torch.Tensor:
    """Stacks of K copies of one random frame, ``[B, 3K, H, W]``."""
    generator = torch.Generator().manual_seed(seed)
    frame = torch.rand(batch, 3, SIZE, SIZE, generator=generator)
    return frame.repeat(1, frames, 1, 1)


def test_the_shift_is_a_whole_pixel_window_of_the_border_padded_stack() -> None:
    x = torch.rand(8, 12, SIZE, SIZE)
    torch.manual_seed(0)
    y = StackAugmentation((SIZE, SIZE), shift_pad=4)(x)
    padded = F.pad(x, (4, 4, 4, 4), mode="replicate")
    offsets = []
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(padded[i, :, dy : dy + SIZE, dx : dx + SIZE], y[i])
        ]
        assert len(found) == 1  # all 12 channels moved by one shift
        offsets.append(found[0])
    assert len(set(offsets)) > 1  # each stack draws its own


def test_a_stack_of_one_frame_stays_one_frame_under_shift_and_jitter() -> None:
    x = stacks()
    torch.manual_seed(1)
    y = StackAugmentation((SIZE, SIZE), shift_pad=4, jitter=0.4, jitter_prob=1.0)(x)
    frames = y.view(len(y), 4, 3, SIZE, SIZE)
    assert torch.allclose(frames, frames[:, :1].expand_as(frames))  # one draw per stack
    assert not torch.allclose(y, x, atol=1e-3)
    assert y.min() >= 0 and y.max() <= 1


def test_jitter_changes_colours_and_off_leaves_them() -> None:
    x = stacks()
    torch.manual_seed(2)
    jittered = StackAugmentation((SIZE, SIZE), shift_pad=0, jitter=0.4, jitter_prob=1.0)(x)
    plain = StackAugmentation((SIZE, SIZE), shift_pad=0, jitter=0.0)(x)
    assert torch.equal(plain, x)
    assert (jittered - x).abs().mean() > 0.01


def test_the_same_torch_seed_draws_the_same_augmentation() -> None:
    x = torch.rand(4, 12, SIZE, SIZE)
    aug = StackAugmentation((SIZE, SIZE), shift_pad=4, jitter=0.3, jitter_prob=0.8)
    torch.manual_seed(3)
    first = aug(x)
    torch.manual_seed(3)
    assert torch.equal(first, aug(x))


def test_the_extractor_augments_in_training_mode_only_and_is_nature_cnn_otherwise() -> None:
    space = spaces.Box(0, 255, (12, SIZE, SIZE), np.uint8)
    torch.manual_seed(0)
    augmented = AugmentedNatureCNN(space)
    torch.manual_seed(0)
    plain = NatureCNN(space)
    assert augmented.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(augmented.state_dict())
    x = torch.rand(3, 12, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(augmented.eval()(x), plain.eval()(x))
        assert not torch.equal(augmented.train()(x), plain.train()(x))


@pytest.mark.parametrize(("rule", "update_passes"), [("rad", 1), ("drac", 2)])
def test_ppo_augments_its_updates_but_never_its_rollouts(rule, update_passes) -> None:
    """SB3 switches the policy's mode; what matters is which forward passes see shifted frames.
    RAD's update runs the network once, on augmented frames; DrAC's twice, raw and augmented."""
    from stable_baselines3.common.vec_env import VecFrameStack

    venv = VecFrameStack(
        make_vec_env(["A_room1"], 2, 0, {"obs_size": SIZE, "max_episode_steps": 20}, "dummy"), 4
    )
    augment = {"shift_pad": 4, "jitter": 0.0, "jitter_prob": 0.8, "rule": rule, "drac_coef": 0.1}
    spec = policy_spec("pixels", {}, None, augment=augment)
    model = PPO(
        policy_class(PPO, spec["policy"]), venv, n_steps=8, batch_size=8, n_epochs=1, seed=0,
        policy_kwargs=policy_kwargs(spec),
    )  # fmt: skip
    extractor = model.policy.features_extractor
    assert isinstance(extractor, AugmentedNatureCNN)
    calls: list[tuple[bool, bool]] = []
    real = extractor.augmentation.forward

    def spy(x: torch.Tensor) -> torch.Tensor:
        calls.append((extractor.training, torch.is_grad_enabled()))
        return real(x)

    extractor.augmentation.forward = spy
    modes: list[bool] = []
    extractor.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    model.learn(16)
    venv.close()
    rollout_steps = modes.count(False)
    assert rollout_steps >= 16 // 2  # 8 steps of 2 envs (and the value bootstraps)
    assert modes.count(True) == 2 * update_passes  # one minibatch per update, two updates
    assert calls == [(True, True)] * 2  # augmented exactly in the updates, with gradients


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("augment.jitter=1.5", "augment.jitter=1.5: use a number >= 0 and <= 0.99"),
        ("augment.shift_pad=-1", "augment.shift_pad=-1: use a whole number >= 0"),
        ("augment.jitter_prob=2", "augment.jitter_prob=2.0: use a number >= 0 and <= 1"),
        ("+augment.hue=0.1", "unknown augment setting\\(s\\) hue: use shift_pad, jitter"),
        ("augment.rule=crop", "augment.rule=.crop.: use rad"),
        ("augment.drac_coef=-1", "augment.drac_coef=-1.0: use a number >= 0"),
    ],
)
def test_bad_augment_settings_are_one_line(tmp_path, override, message) -> None:
    fails(act_config(tmp_path, "pixels_aug", "act.obs_size=40", override), message)
    assert not (tmp_path / "act").exists()


@pytest.mark.slow
def test_augment_settings_key_pixels_aug_agents_only(tmp_path) -> None:
    from darla.stages.act import run_act

    def agent(representation: str, *extra: str):
        cfg = act_config(
            tmp_path, representation, "act.obs_size=40", "act.eval_every=32", *extra, steps=32
        )
        return run_act(cfg, progress=False)

    pixels = agent("pixels")
    assert agent("pixels", "augment.shift_pad=2").reused  # not pixels' setting
    shifted = agent("pixels_aug")  # DrAC, the default
    assert not shifted.reused and shifted.run_dir.name.startswith("pixels_aug-ppo-")
    other = agent("pixels_aug", "augment.shift_pad=2")
    assert not other.reused and other.run_dir != shifted.run_dir != pixels.run_dir
    rad = agent("pixels_aug", "augment.rule=rad")
    assert not rad.reused
    # learning curves draw each update rule as its own method
    from darla.agents.curves import load_curve

    assert [load_curve(r.run_dir).method for r in (pixels, shifted, rad)] == [
        "pixels-ppo",
        "pixels_aug (drac)-ppo",
        "pixels_aug (rad)-ppo",
    ]
    # what transfer loads: raw frames in, the network as trained, never augmented
    from darla.agents import load_agent

    loaded = load_agent(shifted.run_dir)
    assert isinstance(loaded.policy.features_extractor, AugmentedNatureCNN)
    assert not loaded.policy.features_extractor.training
    frames = np.random.default_rng(0).integers(0, 256, (8, 40, 40, 3), dtype=np.uint8)
    obs = torch.as_tensor(np.repeat(frames.transpose(0, 3, 1, 2), 4, axis=1)).float() / 255
    with torch.no_grad():
        features = loaded.policy.features_extractor(obs)
        trained = shifted.model.policy.features_extractor
        assert torch.equal(features, NatureCNN.forward(trained.eval(), obs))


def _drac_policy(coef: float = 0.5):
    from darla.agents.augmentation import DrACCnnPolicy

    space = spaces.Box(0, 255, (12, SIZE, SIZE), np.uint8)
    augment = {"shift_pad": 4, "jitter": 0.0, "jitter_prob": 0.8, "rule": "drac", "drac_coef": coef}
    kwargs = policy_kwargs(policy_spec("pixels", {}, None, augment=augment))
    torch.manual_seed(0)
    return DrACCnnPolicy(space, spaces.Discrete(3), lambda _: 1e-3, **kwargs)


def test_drac_steps_on_ppo_s_gradient_plus_its_regulariser_by_hand() -> None:
    """DrAC: PPO's terms on raw frames; α_r (KL(π(s) ‖ π(f(s))) + (V(f(s)) − V(s))²) on top."""
    policy = _drac_policy(coef=0.5).train()
    obs = torch.rand(6, 12, SIZE, SIZE) * 255
    actions = torch.tensor([0, 1, 2, 0, 1, 2])

    torch.manual_seed(7)
    values, log_prob, _ = policy.evaluate_actions(obs, actions)
    (values.sum() + log_prob.sum()).backward()
    injected = [p.grad.clone() for p in policy.parameters()]

    policy.zero_grad()
    torch.manual_seed(7)  # the same shifts
    shifted = policy.features_extractor.augmentation(obs / 255) * 255
    raw_dist, raw_values = policy._heads(obs)
    aug_dist, aug_values = policy._heads(shifted)
    target = torch.distributions.Categorical(logits=raw_dist.logits.detach())
    kl = torch.distributions.kl_divergence(target, aug_dist).mean()
    regulariser = 0.5 * (kl + (aug_values - raw_values.detach()).pow(2).mean())
    (raw_values.sum() + raw_dist.log_prob(actions).sum() + regulariser).backward()
    by_hand = [p.grad for p in policy.parameters()]
    assert kl > 0 and regulariser > 0
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(injected, by_hand, strict=True))
    # and the values PPO's loss sees are the raw frames'
    assert torch.allclose(values, raw_values)


def test_drac_evaluates_raw_frames_outside_training() -> None:
    policy = _drac_policy().eval()
    obs = torch.rand(4, 12, SIZE, SIZE) * 255
    actions = torch.zeros(4, dtype=torch.long)
    with torch.no_grad():
        first = policy.evaluate_actions(obs, actions)
        second = policy.evaluate_actions(obs, actions)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not policy.features_extractor.training


def test_drac_is_refused_for_agents_other_than_ppo(tmp_path) -> None:
    fails(
        act_config(tmp_path, "pixels_aug", "act.obs_size=40", "augment.rule=drac", agent="dqn"),
        "augment.rule=drac regularises PPO's actor-critic, not dqn",
    )
