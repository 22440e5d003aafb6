"""μ(x) of a frozen vision module at the CPU's speed: the one inference path of act, transfer
and the metrics.

A frozen encoder's weights never change, so its forward pass can be handed to a runtime built
for inference. Measured on 2 cores of an AVX-512 Xeon (``python -m benchmarks.bench_encoder``,
docs/notes/2026-12-02-speed-against-the-limit.md), ONNX Runtime ran DARLA's encoder at about the
rate of a large float32 matmul on one core, 1.3-2.2x faster than eager PyTorch at the batch
sizes act (8), transfer (5) and the metrics (256) use (about 3x for one frame); TorchScript freeze, channels-last, inference
mode and ``torch.compile`` all came in between. Its latents are not bit-identical to eager
PyTorch's (another summation order: about 1e-8 apart), but every stage that reads latents goes
through :class:`FrozenEncoder` with its stage's ``inference`` setting, so they agree with each
other. ``inference=eager`` is the fallback: PyTorch's own forward pass, also the one used for a
model on a GPU.

The vision module's code statistics (``code_stats.json``) stay on eager PyTorch: they are
properties of the trained module that ``darla see`` writes once, over thousands of frames.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import torch
from torch import nn

from darla.errors import DarlaError
from darla.vision.base import VisionModel, check_frames, images_to_tensor

RUNTIMES: tuple[str, ...] = ("onnx", "eager")


def check_runtime(runtime: str, where: str = "inference") -> str:
    if runtime not in RUNTIMES:
        raise DarlaError(
            f"unknown {where}={runtime!r}: use onnx (ONNX Runtime, the fast default) or eager "
            "(PyTorch's own forward pass)"
        )
    return runtime


class _MeanCode(nn.Module):
    """uint8 frames ``[N, H, W, 3]`` -> μ(x) ``[N, D]``, conversion included (what is exported)."""

    def __init__(self, model: VisionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        return self.model.encode(x.contiguous())[0]


def _with_plain_weights(model: VisionModel) -> VisionModel:
    """A copy whose parametrised weights (InfoGAN's spectral norm) are baked into plain ones.

    In eval mode a parametrisation is a fixed function of stored tensors, so the baked weight is
    the one eager PyTorch computes on every call; the exporter then sees plain convolutions (it
    has no ONNX form for spectral norm's ``vdot``). A parametrised module's class is made per
    instance and a deep copy shares it, so each copy gets a class of its own before the
    parametrisation is removed from it: the model itself is left as it was.
    """
    from torch.nn.utils import parametrize

    plain = copy.deepcopy(model)
    for part in list(plain.modules()):
        if parametrize.is_parametrized(part):
            shared = type(part)
            part.__class__ = type(shared.__name__, shared.__bases__, dict(shared.__dict__))
            for name in list(part.parametrizations):
                parametrize.remove_parametrizations(part, name, leave_parametrized=True)
    return plain


def _onnx_session(model: VisionModel, threads: int):
    """An ONNX Runtime session of the model's mean code, exported in memory (no file written)."""
    import onnxruntime

    size = int(model.config.get("image_size") or 64)
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # torch 2.13 marks the TorchScript-based exporter deprecated; the torch.export-based
            # one takes ~5 s per model instead of ~0.05 s, paid by every act and transfer process.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _MeanCode(_with_plain_weights(model)).eval(),
                (example,),
                buffer,
                input_names=["frames"],
                output_names=["mu"],
                dynamic_axes={"frames": {0: "batch"}, "mu": {0: "batch"}},
                dynamo=False,
            )
    except Exception as error:  # the exporter raises many kinds; all mean "this graph won't go"
        raise DarlaError(
            f"the {model.config.get('name')} encoder could not be exported to ONNX "
            f"({type(error).__name__}: {str(error).splitlines()[0][:120]}): set inference=eager"
        ) from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(
        buffer.getvalue(), options, providers=["CPUExecutionProvider"]
    )


class FrozenEncoder:
    """μ(x) for uint8 frames through ``runtime``, for a model that is and stays frozen.

    The model is put in eval mode without gradients. With ``onnx`` its weights are exported
    once, on the first call (with the torch thread count of that moment), so the model must not
    be trained afterwards: that is what frozen means here, and what act and transfer guarantee.
    A model on another device than the CPU always runs eagerly.
    """

    def __init__(self, model: VisionModel, runtime: str = "onnx") -> None:
        self.model = model.requires_grad_(False).eval()
        self.runtime = check_runtime(runtime) if model.device.type == "cpu" else "eager"
        self._session = None

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    def __call__(self, obs_uint8: np.ndarray) -> np.ndarray:
        """μ(x) for uint8 frames ``[N, H, W, 3]`` in one forward pass, float32 ``[N, D]``."""
        if self.runtime == "eager":
            with torch.no_grad():
                x = images_to_tensor(obs_uint8, self.model.device)
                return self.model.encode(x.contiguous())[0].float().cpu().numpy()
        check_frames(obs_uint8)
        if len(obs_uint8) == 0:
            return np.empty((0, self.latent_dim), dtype=np.float32)
        if self._session is None:
            self._session = _onnx_session(self.model, torch.get_num_threads())
        (mu,) = self._session.run(None, {"frames": np.ascontiguousarray(obs_uint8)})
        return mu

    def in_batches(self, obs_uint8: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """μ(x) for many frames, ``batch_size`` at a time (bounded memory), float32 ``[N, D]``."""
        out = np.empty((len(obs_uint8), self.latent_dim), dtype=np.float32)
        for start in range(0, len(obs_uint8), batch_size):
            out[start : start + batch_size] = self(obs_uint8[start : start + batch_size])
        return out
