"""SB3 algorithms by name (sb3-contrib's RecurrentPPO among them), and the policy each
representation needs.

Policy settings come from ``darla/configs/agent/<name>.yaml`` as plain data (``activation_fn: tanh``),
so the same description builds the policy for training and rebuilds it in
:func:`darla.agents.load_agent` without unpickling anything.
"""

from __future__ import annotations

from typing import Any

from sb3_contrib import RecurrentPPO
from stable_baselines3 import DQN, PPO
from torch import nn

from darla.errors import DarlaError

ALGOS = {"ppo": PPO, "dqn": DQN, "recurrent_ppo": RecurrentPPO}
# agents whose policy carries an LSTM state from step to step (its predict takes the state)
RECURRENT = frozenset({"recurrent_ppo"})
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}


def get_algo(name: str):
    if name not in ALGOS:
        raise DarlaError(f"unknown agent {name!r}: use agent=ppo, agent=dqn or agent=recurrent_ppo")
    return ALGOS[name]


def is_recurrent(name: str) -> bool:
    return name in RECURRENT


def schedule_follows_total(hyperparams: dict[str, Any]) -> bool:
    """Whether a schedule runs over the whole ``total_timesteps``, so that training for N steps
    and then continuing to M differs from training for M in one go. Learning rates and clip
    ranges from a config are constants; DQN's exploration ε decays over a fraction of the total
    unless its start and end are equal."""
    start = hyperparams.get("exploration_initial_eps", 1.0)
    end = hyperparams.get("exploration_final_eps", 0.05)
    return "exploration_fraction" in hyperparams and start != end


def policy_spec(
    mode: str,
    policy: dict[str, Any],
    vision_file: str | None,
    recurrent: bool = False,
    augment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """JSON-able ``{"policy": "MlpPolicy"|"CnnPolicy", "kwargs": {...}}`` for a representation mode.

    ``latent`` acts on the wrapper's vectors (an MLP); ``pixels`` uses SB3's NatureCNN;
    ``finetune`` puts the vision module in the CNN policy as a trainable features extractor.
    ``recurrent`` (RecurrentPPO) takes the LSTM versions: ``MlpLstmPolicy``, ``CnnLstmPolicy``.
    ``augment`` (``pixels_aug``): NatureCNN with its input augmented in the update.
    """
    kwargs = dict(policy)
    lstm = "Lstm" if recurrent else ""
    if mode == "latent":
        return {"policy": f"Mlp{lstm}Policy", "kwargs": kwargs}
    if mode == "finetune":
        kwargs["features_extractor"] = {"vision": vision_file, "trainable": True}
    if augment is not None:
        kwargs["augment"] = dict(augment)
        if augment.get("rule") == "drac":
            return {"policy": "DrACCnnPolicy", "kwargs": kwargs}
    return {"policy": f"Cnn{lstm}Policy", "kwargs": kwargs}


def policy_class(algo: Any, name: str) -> Any:
    """The policy class an agent file names: SB3's own aliases, or one darla adds
    (``DrACCnnPolicy``, for PPO only)."""
    from darla.agents.augmentation import POLICIES

    if name in POLICIES:
        if algo is not PPO:
            raise DarlaError(
                f"{name} is a PPO policy, not {algo.__name__}'s: use agent=ppo, or augment.rule=rad"
            )
        return POLICIES[name]
    return algo.policy_aliases[name]


def policy_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` from a :func:`policy_spec` (names -> classes)."""
    kwargs = dict(spec["kwargs"])
    activation = kwargs.pop("activation_fn", None)
    if activation is not None:
        if activation not in ACTIVATIONS:
            raise DarlaError(
                f"unknown activation_fn {activation!r}: use one of {', '.join(ACTIVATIONS)}"
            )
        kwargs["activation_fn"] = ACTIVATIONS[activation]
    augment = kwargs.pop("augment", None)
    if augment is not None:
        from darla.agents.augmentation import augmented_policy_kwargs

        kwargs.update(augmented_policy_kwargs(augment))
    extractor = kwargs.pop("features_extractor", None)
    if extractor is not None:
        from darla.agents.extractor import DarlaFeaturesExtractor

        kwargs["features_extractor_class"] = DarlaFeaturesExtractor
        kwargs["features_extractor_kwargs"] = dict(extractor)
    if "net_arch" in kwargs and kwargs["net_arch"] is not None:
        kwargs["net_arch"] = list(kwargs["net_arch"])
    return kwargs
