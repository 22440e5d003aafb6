"""darla: DARLA-style zero-shot transfer in reinforcement learning.

see (disentangled vision) -> act (SB3 agents on frozen latents) -> transfer (held-out domains).
"""

from darla.errors import DarlaError

__version__ = "0.1.0"
__all__ = ["DarlaError", "__version__", "load_agent"]


def load_agent(run_dir, device="cpu"):
    """A trained ``darla act`` agent whose ``predict`` takes raw uint8 frames.

    Imported lazily, so that ``import darla`` does not load Stable-Baselines3.
    """
    from darla.agents import load_agent as _load_agent

    return _load_agent(run_dir, device)
