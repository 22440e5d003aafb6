"""The one interface every vision module implements.

Stages 2 and 3 and the disentanglement metrics only ever call ``latent_mean`` on uint8 frames, so
any model that implements :class:`VisionModel` (the paper's β-VAE_DAE, a pixel β-VAE, a DAE, or a
user's own) plugs into the rest of the pipeline without further glue.
"""

from __future__ import annotations

import abc
import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from darla.errors import DarlaError


def check_frames(obs_uint8: np.ndarray) -> None:
    """Refuse anything but uint8 frames ``[N, H, W, 3]``, in one line naming the fix."""
    if not isinstance(obs_uint8, np.ndarray) or obs_uint8.dtype != np.uint8:
        kind = getattr(obs_uint8, "dtype", type(obs_uint8).__name__)
        raise DarlaError(
            f"expected uint8 frames [N, H, W, 3], got {kind}: pass raw observations, not floats"
        )
    if obs_uint8.ndim != 4 or obs_uint8.shape[-1] != 3:
        raise DarlaError(
            f"expected uint8 frames [N, H, W, 3], got shape {tuple(obs_uint8.shape)}: "
            "stack single frames with obs[None]"
        )


def images_to_tensor(obs_uint8: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Convert uint8 frames ``[N, H, W, 3]`` to float ``[N, 3, H, W]`` in [0, 1] on ``device``.

    Environments and the frame store hold HWC uint8 (a quarter of the memory of float32); the
    models take CHW floats. The conversion happens after the copy to ``device`` so only bytes
    cross the bus.
    """
    check_frames(obs_uint8)
    array = np.ascontiguousarray(obs_uint8)
    if not array.flags.writeable:  # a read-only memory map: torch wants memory it may write
        array = array.copy()
    x = torch.from_numpy(array).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """Float images ``[N, 3, H, W]`` in [0, 1] -> uint8 ``[N, H, W, 3]`` (for PNG, video, TB)."""
    x = x.detach().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block in eval mode without gradients, then restore the model's previous mode.

    Restoring matters: encoding frames for metrics or TensorBoard in the middle of training must
    not leave the model in eval mode (SB3 and our own loops both rely on ``model.training``).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class PretrainedPart:
    """A trained vision model that another one is built on and keeps frozen: DARLA's DAE (J, the
    β-VAE_DAE's reconstruction target), SCAN's visual β-VAE. A model class lists its parts in
    ``pretrained``; ``darla see`` trains or reuses each as its own see run first (or takes the
    finished run a user names), the registry resolves it from a path, and serialisation rebuilds
    it from the saved config, all from this one declaration.
    """

    # The part's name in every place it appears: the constructor argument taking it, the entry
    # of the model's config holding its config, the ``vision:`` section configuring it
    # (``vision.dae``) and the run key input holding its weights' digest (``dae_sha256``).
    name: str
    # The top-level ``darla see`` option naming a finished run to use instead (``dae_run=PATH``).
    run_option: str
    # Where its tensors live in the saved file (:meth:`VisionModel.hold_frozen`).
    prefix: str
    # The class a run given as ``run_option`` must hold (the model checks the rest itself).
    kind: type[VisionModel]
    # How messages name it ("DAE").
    what: str
    # The ``darla see vision=`` models whose runs serve, the usual one first (for messages).
    trained_by: tuple[str, ...]
    # What ``build_model`` suggests when it is missing.
    hint: str
    # True when the model's ``latent_mean`` is the part's μ(x) (SCAN's): the model's
    # disentanglement scores are the part's, copied from its run instead of scored again.
    shares_latents: bool = False


class VisionModel(nn.Module, abc.ABC):
    """Abstract vision module: an encoder to a latent code, a decoder back to images, a loss.

    Inputs are float ``[B, 3, H, W]`` in [0, 1]. Subclasses store the keyword arguments they were
    built from in ``self._config`` (JSON-able, with the registry ``name``), so that
    ``build_model(**model.config)`` rebuilds the same architecture; weights live in safetensors.
    """

    _config: dict[str, Any]
    # Options a model deliberately lacks, each with the one-line hint ``build_model`` gives when
    # one is passed (``{"beta": "factor_vae has no beta: ... use gamma"}``).
    OPTION_HINTS: ClassVar[dict[str, str]] = {}
    # False for a model without a decoder (a contrastive encoder): ``decode`` and ``reconstruct``
    # raise, so callers skip reconstruction and traversal grids for it.
    generative: ClassVar[bool] = True
    # What one training batch holds, which decides where ``darla see`` draws batches from:
    # ``frames`` (collected frames only), ``labelled`` (frames and their int factor labels,
    # passed as ``loss(x, factors=...)``: SCAN), ``domain_labelled`` (frames and the index of the
    # source domain each was collected in, passed as ``loss(x, domains=...)``: DCoDR) or
    # ``clamped`` (scenes rendered from the factor dataset with one factor varying, passed as
    # ``loss(x, varying_factor=k)``: DC-IGN).
    training_data: ClassVar[str] = "frames"
    # The trained models this one is built on and keeps frozen (see :class:`PretrainedPart`).
    pretrained: ClassVar[tuple[PretrainedPart, ...]] = ()
    # Options that files saved before they existed lack, with the value those files were built
    # with, so that an older file still loads as what it was.
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

    @property
    def config(self) -> dict[str, Any]:
        """The registry name plus every constructor argument; enough to rebuild the model."""
        return copy.deepcopy(self._config)

    @property
    @abc.abstractmethod
    def latent_dim(self) -> int:
        """Size D of the code ``latent_mean`` returns."""

    @property
    def device(self) -> torch.device:
        """Device of the model's (first) parameter or buffer; cpu for a model without either."""
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    @abc.abstractmethod
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(mu, logvar)`` of q(z|x), or ``(code, None)`` for a deterministic encoder."""

    @abc.abstractmethod
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map codes ``[B, D]`` to images ``[B, 3, H, W]`` in [0, 1]."""

    @abc.abstractmethod
    def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named loss terms for a float batch; ``"loss"`` is the scalar total to minimise.

        The built-in models also take ``generator=`` (a ``torch.Generator``) for their noise:
        the DAE's masks and the VAEs' reparameterisation samples.
        """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` through the mean code (no sampling): what the agent 'sees'."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Alias of ``forward``, named for what it does."""
        return self.forward(x)

    def latent_mean(self, obs_uint8: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """μ(x) for uint8 frames ``[N, H, W, 3]`` as float32 ``[N, D]``: the agent's input.

        Runs in eval mode without gradients, in batches of ``batch_size`` on the model's device,
        and restores the previous train/eval mode, so calling it from inside a training loop (for
        metrics or TensorBoard) does not silently switch the model out of training.
        """
        if batch_size <= 0:
            raise DarlaError(f"batch_size must be positive, got {batch_size}: use e.g. 256")
        check_frames(obs_uint8)  # before any work
        device = self.device
        out = np.empty((len(obs_uint8), self.latent_dim), dtype=np.float32)
        with eval_mode(self):
            for start in range(0, len(obs_uint8), batch_size):
                x = images_to_tensor(obs_uint8[start : start + batch_size], device)
                mu, _ = self.encode(x)
                out[start : start + len(x)] = mu.float().cpu().numpy()
        return out

    # Hooks for the training loop (``darla.vision.training.trainer.train_vision``). The defaults
    # are the plain single-optimizer step, so a model with one loss and one optimizer overrides
    # none.
    def set_step(self, step: int) -> None:
        """Called with the optimizer step about to run (0-based) before each training ``loss``.

        For schedules that depend on training progress (AnnealedVAE's capacity). A schedule must
        be a pure function of ``step`` so a run resumed from a checkpoint sees the same values.
        """

    def make_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """The optimizers the trainer steps and checkpoints, by name; ``"model"`` uses ``lr``.

        Override to train parts of the model with separate optimizers (a discriminator, a
        generator); the trainer saves and restores every one, so resuming stays exact.
        """
        return {"model": torch.optim.Adam(self.parameters(), lr=lr)}

    def step_optimizers(
        self, terms: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        """Apply one update from the terms :meth:`loss` returned (already checked finite).

        Default: minimise ``terms["loss"]`` with ``optimizers["model"]``. A model with extra
        optimizers calls this, then steps its own from terms it returned (FactorVAE's
        ``discriminator_loss``).
        """
        optimizer = optimizers["model"]
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    # Frozen parts: the trained models this one is built on but never trains (``pretrained``:
    # DARLA's DAE, SCAN's visual model). They stay outside nn.Module's registry, so neither ``parameters()`` (the optimizer)
    # nor ``state_dict()`` sees them, yet they follow ``.to()``, stay in eval mode and are saved
    # with the model under their prefix.
    def hold_frozen(self, part: PretrainedPart, model: VisionModel) -> VisionModel:
        """Keep a frozen copy of ``model`` as ``part`` on this model's device; its tensors save
        as ``part.prefix + name``."""
        frozen = copy.deepcopy(model).to(self.device).requires_grad_(False).eval()
        # object.__setattr__: nn.Module.__setattr__ would register the parts as submodules
        object.__setattr__(self, "_frozen_parts", {**self._frozen(), part.prefix: frozen})
        return frozen

    def frozen_part(self, part: PretrainedPart) -> VisionModel:
        return self._frozen()[part.prefix]

    def _frozen(self) -> dict[str, VisionModel]:
        return vars(self).get("_frozen_parts", {})

    def train(self, mode: bool = True) -> VisionModel:
        super().train(mode)
        for part in self._frozen().values():
            part.eval()
        return self

    def _apply(self, fn: Any, recurse: bool = True) -> VisionModel:
        # nn.Module routes .to(), .cuda(), .double() ... through _apply: frozen parts follow
        super()._apply(fn, recurse)
        for part in self._frozen().values():
            part._apply(fn, recurse)
        return self

    # Hooks for serialization: the model's own state_dict plus every frozen part's tensors.
    def tensors_to_save(self) -> dict[str, torch.Tensor]:
        """Every tensor needed to restore the model, keyed by name."""
        tensors = dict(self.state_dict())
        for prefix, part in self._frozen().items():
            tensors.update({prefix + k: v for k, v in part.tensors_to_save().items()})
        return tensors

    def load_saved_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`tensors_to_save`; raises on missing or unexpected keys."""
        parts = self._frozen()
        own = {k: v for k, v in tensors.items() if not k.startswith(tuple(parts))}
        self.load_state_dict(own, strict=True)
        for prefix, part in parts.items():
            part.load_saved_tensors(
                {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            )
