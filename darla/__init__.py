"""darla: DARLA-style zero-shot transfer in reinforcement learning.

see (disentangled vision) -> act (SB3 agents on frozen latents) -> transfer (held-out domains).
"""

from darla.errors import DarlaError

__version__ = "0.1.0"
__all__ = ["DarlaError", "__version__"]
