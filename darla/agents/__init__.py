"""Stage 2 agents (DARLA's "act"): SB3 PPO, DQN and sb3-contrib's RecurrentPPO on a frozen
vision module's latents (the last few stacked: ``stack_frames``).

Typical use::

    from darla.agents import LatentVecEnv, make_vec_env, load_agent
    venv = LatentVecEnv(make_vec_env(envs.source_domains(), n_envs=4, seed=0), load_encoder(run))
    PPO("MlpPolicy", venv).learn(100_000)       # the agent sees 32 floats per frame
    agent = load_agent("runs/act/darla-ppo-<key>")
    agent.reset()                               # new episodes: forget the frame stack / LSTM
    action = agent.predict(frame_uint8)         # raw pixels in, whatever the representation

``DarlaFeaturesExtractor`` offers the same encoder inside an SB3 policy (frozen by default, or
fine-tuned with ``trainable=True``). ``darla act`` (:func:`darla.stages.act.run_act`) trains one.
"""

from darla.agents.algos import ALGOS, get_algo
from darla.agents.encoders import freeze, load_encoder, random_encoder
from darla.agents.env import EpisodeSeeds, make_vec_env, stack_frames
from darla.agents.extractor import DarlaFeaturesExtractor
from darla.agents.loading import Agent, load_agent
from darla.agents.representations import REPRESENTATIONS, Representation, get_representation
from darla.agents.wrapper import LatentVecEnv

__all__ = [
    "ALGOS",
    "REPRESENTATIONS",
    "Agent",
    "DarlaFeaturesExtractor",
    "EpisodeSeeds",
    "LatentVecEnv",
    "Representation",
    "freeze",
    "get_algo",
    "get_representation",
    "load_agent",
    "load_encoder",
    "make_vec_env",
    "random_encoder",
    "stack_frames",
]
