"""``pixels_aug``: the pixel agent with its observations augmented in the RL update (DrQ / RAD).

Kostrikov, Yarats & Fergus 2021, "Image Augmentation Is All You Need" (DrQ), and Laskin et al.
2020, "Reinforcement Learning with Augmented Data" (RAD): the strongest zero-shot visual-transfer
baselines since DARLA are pixel agents trained on randomly shifted (and optionally colour
jittered) frames. The default is DrQ's random shift: pad each frame stack by 4 pixels with its
border repeated, then crop back to its size at a random offset. Colour jitter (brightness,
contrast, saturation; RAD's "color jitter") is an option, without hue: in these domains an
object's hue is what tells a good object from a bad one, as in the contrastive encoder.

Augmentation happens in the update only. SB3 puts the policy in training mode for its gradient
steps and in eval mode to collect rollouts and to predict, so augmentation runs only when
``self.training`` is True: rollouts, evaluations and transfer see raw frames. How the augmented
frames enter PPO's update is ``augment.rule``: ``rad``, PPO's loss on them (RAD's PPO;
:class:`AugmentedNatureCNN` augments its input), or ``drac``, the default, PPO's loss on the raw
frames plus DrAC's regulariser on the augmented ones (:class:`DrACCnnPolicy`). At the default
budget RAD's rule learned the source task clearly worse than plain pixels and DrAC's as well
(docs/results/pixels_aug). A stack of K frames shares one shift and one jitter (the camera moves, or the
lighting changes, for the whole stack, as in RAD's stacked-frame jitter).

The library is kornia (``kornia.augmentation``): its random crop and colour jitter draw their
parameters per image on a whole batch. torchvision's ``transforms.v2`` draws one set of
parameters per call (a batch gets one shift, unless looped image by image), and the registry's
torchvision 0.28.0 wheel is a CUDA build that fails to import beside the CPU torch 2.13.0
(``operator torchvision::nms does not exist``). Draws come from torch's global RNG, which SB3
seeds from the agent's seed and ``darla act``'s checkpoints save and restore, so a resumed agent
draws the same shifts.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticCnnPolicy
from stable_baselines3.common.torch_layers import NatureCNN
from torch import nn

from darla.errors import DarlaError
from darla.settings import check_section

# The `augment:` settings of `darla act representation=pixels_aug`, with their defaults.
DEFAULTS = {"shift_pad": 4, "jitter": 0.0, "jitter_prob": 0.8, "rule": "drac", "drac_coef": 0.1}
# How the augmented frames enter PPO's update (see the module docstring).
RULES = ("rad", "drac")


def check_augment_settings(augment: dict) -> dict:
    """``augment``'s settings, checked (one line naming the bad value and the fix), as numbers."""
    unknown = sorted(set(augment) - set(DEFAULTS))
    if unknown:
        raise DarlaError(
            f"unknown augment setting(s) {', '.join(unknown)}: use {', '.join(DEFAULTS)}"
        )
    if augment.get("rule") not in RULES:
        raise DarlaError(
            f"augment.rule={augment.get('rule')!r}: use rad (augmented frames in the PPO loss) or "
            "drac (PPO on raw frames, augmented ones regularised towards them)"
        )
    # jitter below 1: a factor of 1 - s = 0 would turn a frame black
    check_section(
        "augment",
        augment,
        whole={"shift_pad": 0},
        real={"jitter": (0, 0.99), "jitter_prob": (0, 1), "drac_coef": (0, None)},
    )
    return {
        "shift_pad": int(augment["shift_pad"]),
        "jitter": float(augment["jitter"]),
        "jitter_prob": float(augment["jitter_prob"]),
        "rule": augment["rule"],
        "drac_coef": float(augment["drac_coef"]),
    }


class StackAugmentation(nn.Module):
    """A random shift and colour jitter of frame stacks ``[B, 3K, H, W]`` in [0, 1].

    Args:
        image_size: (H, W) of a frame.
        shift_pad: largest shift in pixels along each axis, the border repeated (DrQ: 4); 0 off.
        jitter: brightness, contrast and saturation factors from [1 - s, 1 + s]; 0 off (default).
        jitter_prob: the chance that a stack is jittered at all.
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        shift_pad: int = 4,
        jitter: float = 0.0,
        jitter_prob: float = 0.8,
    ) -> None:
        super().__init__()
        import kornia.augmentation as K  # here: importing kornia takes ~1.7 s, only pixels_aug pays

        self.shift = (
            K.RandomCrop(tuple(image_size), padding=shift_pad, padding_mode="replicate")
            if shift_pad
            else None
        )
        self.jitter = (
            K.ColorJitter(jitter, jitter, jitter, 0.0, p=jitter_prob)
            if jitter > 0 and jitter_prob > 0
            else None
        )

    def forward(self, stacks: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = stacks.shape
        out = stacks if self.shift is None else self.shift(stacks)  # 3K channels: one shift
        if self.jitter is None:
            return out
        frames = channels // 3
        # one draw per stack, repeated for its K frames
        params = self.jitter.forward_parameters(torch.Size((batch, 3, height, width)))
        params = {
            name: value.repeat_interleave(frames, dim=0)
            if name not in ("order", "forward_input_shape")
            else value
            for name, value in params.items()
        }
        params["forward_input_shape"] = torch.tensor((batch * frames, 3, height, width))
        flat = out.reshape(batch * frames, 3, height, width)
        return self.jitter(flat, params=params).reshape(batch, channels, height, width)


class AugmentedNatureCNN(NatureCNN):
    """SB3's NatureCNN, its input augmented while the policy trains (see the module docstring).

    The network is NatureCNN's exactly, so ``pixels_aug`` differs from ``pixels`` in the
    augmentation alone.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        features_dim: int = 512,
        normalized_image: bool = False,
        shift_pad: int = DEFAULTS["shift_pad"],
        jitter: float = DEFAULTS["jitter"],
        jitter_prob: float = DEFAULTS["jitter_prob"],
        rule: str = "rad",  # files saved before `rule` existed are RAD agents
        drac_coef: float = DEFAULTS["drac_coef"],
    ) -> None:
        super().__init__(observation_space, features_dim, normalized_image)
        self.rule, self.drac_coef = rule, float(drac_coef)
        # object.__setattr__: not a submodule, so SB3's ortho_init and state dicts never see it
        # (it has no weights); it follows the extractor's training mode through `training`.
        object.__setattr__(
            self,
            "augmentation",
            StackAugmentation(tuple(observation_space.shape[1:]), shift_pad, jitter, jitter_prob),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.training and self.rule == "rad":  # DrAC augments in its policy instead
            observations = self.augmentation(observations)
        return super().forward(observations)


class _WithLossGradient(torch.autograd.Function):
    """``carrier`` unchanged going forward; going backward, also the gradient of the scalar
    ``extra`` (as if ``extra`` were added to the loss ``carrier`` takes part in)."""

    @staticmethod
    def forward(ctx, carrier: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return carrier.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return grad, grad.new_ones(())


class DrACCnnPolicy(ActorCriticCnnPolicy):
    """PPO's actor-critic with DrAC's regulariser (Raileanu et al. 2021, "Automatic Data
    Augmentation for Generalization in Reinforcement Learning").

    RAD's rule puts augmented frames into PPO's ratio π(a | f(s)) / π_old(a | s), whose old
    probabilities were taken on the raw frames; DrAC keeps PPO's loss on the raw frames and adds
    α_r (G_π + G_V), with G_π = KL(π(· | s) ‖ π(· | f(s))) and G_V = (V(f(s)) − V(s))², the raw
    frames' policy and value held fixed (no gradient), so the augmented frames are pulled to
    act and value as the raw ones do. α_r is ``augment.drac_coef`` (the paper's 0.1).

    SB3's PPO adds nothing to its loss, so the regulariser rides on the values this returns: a
    pass-through whose backward adds the regulariser's gradient (:class:`_WithLossGradient`).
    The loss PPO logs is unchanged; the gradient it steps on is PPO's plus α_r's terms.
    """

    def _heads(self, obs: torch.Tensor) -> tuple[torch.distributions.Categorical, torch.Tensor]:
        """π(· | obs) and V(obs). The torch distribution, not SB3's wrapper: SB3 keeps one
        wrapper per policy and refills it on every call, so a second call would overwrite the
        first one's distribution."""
        features = self.extract_features(obs)
        pi, vf = (features, features) if self.share_features_extractor else features
        latent_pi = self.mlp_extractor.forward_actor(pi)
        latent_vf = self.mlp_extractor.forward_critic(vf)
        return self._get_action_dist_from_latent(latent_pi).distribution, self.value_net(latent_vf)

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor):
        distribution, values = self._heads(obs)
        log_prob, entropy = distribution.log_prob(actions), distribution.entropy()
        extractor = self.features_extractor
        if self.training and extractor.drac_coef > 0:
            # augmentations take [0, 1] frames; SB3 hands the policy raw 0..255 values
            augmented = extractor.augmentation(obs / 255.0) * 255.0
            aug_distribution, aug_values = self._heads(augmented)
            raw = torch.distributions.Categorical(logits=distribution.logits.detach())
            g_pi = torch.distributions.kl_divergence(raw, aug_distribution).mean()
            g_v = (aug_values - values.detach()).pow(2).mean()
            values = _WithLossGradient.apply(values, extractor.drac_coef * (g_pi + g_v))
        return values, log_prob, entropy


# The policies `darla act` adds to SB3's names (a JSON agent file names its policy by name).
POLICIES = {"DrACCnnPolicy": DrACCnnPolicy}


def augmented_policy_kwargs(augment: dict) -> dict:
    """SB3 ``policy_kwargs`` entries that make a ``CnnPolicy`` a ``pixels_aug`` policy."""
    return {"features_extractor_class": AugmentedNatureCNN, "features_extractor_kwargs": augment}


__all__ = [
    "DEFAULTS",
    "POLICIES",
    "AugmentedNatureCNN",
    "DrACCnnPolicy",
    "StackAugmentation",
    "augmented_policy_kwargs",
    "check_augment_settings",
]
