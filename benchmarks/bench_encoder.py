"""The frozen encoder against this CPU's limit, and the inference runtimes tried for it.

The roofline: DARLA's encoder (64 px, conv 32-32-64-64, FC 256, μ head of 32) needs a fixed
number of multiply-accumulates per frame, counted here from the model's own layers. One core
can do at most as many as a large float32 matmul does per second (measured here, best of
several sizes), so ``MACs / matmul rate`` is the least time a frame can take on one thread, the
thread count act and transfer run the encoder on.

Figures:

- ``encoder_vs_roofline``: that least time ÷ the adopted runtime's measured time per frame, at
  act's batch (``act.n_envs`` frames per step): the fraction of peak it reaches.
- ``encoder_vs_roofline_transfer``: the same at transfer's batch (``transfer.batch_episodes``).
- ``encoder_onnx_vs_eager``: eager PyTorch's time per frame ÷ ONNX Runtime's, at act's batch.

Every option tried (eager, ``torch.inference_mode``, channels-last, TorchScript freeze +
``optimize_for_inference``, ``torch.compile``, bfloat16 autocast where the CPU has
``avx512_bf16``/``amx_bf16``, ONNX Runtime) is printed with its ms/frame at each batch size and
its largest latent difference from eager float32, and written to
``runs/bench/encoder_options.json``. Weights are perturbed off their initialisation so the
errors are those of a trained-scale model; they do not change the speed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.results import figure
from darla.config import compose, to_plain
from darla.io import write_json
from darla.vision import FrozenEncoder, VisionModel, build_model, images_to_tensor

OPTIONS_PATH = Path("runs/bench/encoder_options.json")
METRICS_BATCH = 256  # VisionModel.latent_mean's and FrozenEncoder.in_batches' default
TOLERANCE = 1e-4  # what a runtime may differ from eager float32 by to be adopted


def darla_encoder(image_size: int = 64) -> VisionModel:
    torch.manual_seed(0)
    dae = build_model("dae", image_size=image_size)
    model = build_model("darla", dae=dae, latent_dim=32, hidden_dim=256).requires_grad_(False)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model.eval()


def macs_per_frame(model: VisionModel, image_size: int) -> int:
    """Multiply-accumulates of ``encode`` for one frame, counted from its conv and linear layers."""
    counted: list[int] = []

    def count(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        if isinstance(layer, nn.Conv2d):
            kernel = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
            counted.append(output[0].numel() * kernel)
        else:
            counted.append(layer.in_features * layer.out_features)

    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    hooks = [m.register_forward_hook(count) for m in layers]
    try:
        with torch.no_grad():
            model.encode(torch.zeros(1, 3, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(counted)


def matmul_flops_per_second() -> float:
    """The best float32 matmul rate of this process's threads, over a few square sizes."""
    best = 0.0
    for size in (512, 1024, 2048):
        a, b = torch.randn(size, size), torch.randn(size, size)
        for _ in range(2):
            a @ b
        for _ in range(5):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def seconds_per_frame(encode: Callable[[np.ndarray], object], frames: np.ndarray) -> float:
    """Median over rounds of the time per frame, a round being ~2000 frames' worth of calls."""
    calls = max(10, 2000 // len(frames))
    for _ in range(3):
        encode(frames)
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            encode(frames)
        rounds.append((time.perf_counter() - start) / (calls * len(frames)))
    return statistics.median(rounds)


class _MeanCode(nn.Module):
    def __init__(self, model: VisionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode(x)[0]


def _has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def options(model: VisionModel, example: torch.Tensor) -> dict[str, Callable[[np.ndarray], object]]:
    """Every runtime tried: uint8 frames in, latents out (the conversion is part of the cost)."""
    mean_code = _MeanCode(model).eval()

    def torch_option(module: Callable, *, mode=torch.no_grad, channels_last=False, bf16=False):
        def encode(frames: np.ndarray) -> np.ndarray:
            with mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                x = images_to_tensor(frames)
                x = x.contiguous(
                    memory_format=torch.channels_last if channels_last else torch.contiguous_format
                )
                return module(x).float().numpy()

        return encode

    frozen = torch.jit.optimize_for_inference(
        torch.jit.freeze(torch.jit.trace(_MeanCode(model).eval(), example).eval())
    )
    start = time.perf_counter()
    compiled = torch.compile(_MeanCode(model).eval(), dynamic=False)
    with torch.inference_mode():
        compiled(example)
    print(f"torch.compile: first call {time.perf_counter() - start:.1f} s (one per batch size)")
    channels_last = _MeanCode(model).eval().to(memory_format=torch.channels_last)
    tried = {
        "eager (no_grad)": torch_option(mean_code),
        "inference_mode": torch_option(mean_code, mode=torch.inference_mode),
        "channels_last": torch_option(channels_last, mode=torch.inference_mode, channels_last=True),
        "jit.freeze + optimize_for_inference": torch_option(frozen, mode=torch.inference_mode),
        "torch.compile (inductor)": torch_option(compiled, mode=torch.inference_mode),
    }
    if _has_bf16():
        tried["bfloat16 autocast"] = torch_option(mean_code, mode=torch.inference_mode, bf16=True)
    tried["onnx runtime"] = FrozenEncoder(model, "onnx")
    return tried


def run(results: dict) -> None:
    cfg = to_plain(compose("act", []))
    act_batch = int(cfg["act"]["n_envs"])
    transfer_batch = int(to_plain(compose("transfer", []))["transfer"]["batch_episodes"])
    size = int(cfg["act"]["obs_size"])
    previous = torch.get_num_threads()
    torch.set_num_threads(int(cfg["act"]["threads"]))
    try:
        model = darla_encoder(size)
        macs = macs_per_frame(model, size)
        peak = matmul_flops_per_second()
        least = 2 * macs / peak
        print(
            f"encoder: {macs / 1e6:.2f} M MACs per frame; float32 matmul {peak / 1e9:.0f} GFLOP/s "
            f"on {torch.get_num_threads()} thread(s): at least {least * 1e3:.3f} ms per frame"
        )
        rng = np.random.default_rng(0)
        batches = sorted({transfer_batch, act_batch, METRICS_BATCH})
        tried = options(model, torch.zeros(act_batch, 3, size, size))
        table: dict[str, dict] = {}
        for batch in batches:
            frames = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
            reference = model.latent_mean(frames)
            for name, encode in tried.items():
                error = float(np.abs(np.asarray(encode(frames), np.float32) - reference).max())
                row = table.setdefault(name, {"ms_per_frame": {}, "max_abs_error": 0.0})
                row["ms_per_frame"][str(batch)] = 1e3 * seconds_per_frame(encode, frames)
                row["max_abs_error"] = max(row["max_abs_error"], error)
    finally:
        torch.set_num_threads(previous)
    print(f"{'option':<38}" + "".join(f"{f'batch {b}':>11}" for b in batches) + "   max |err|")
    for name, row in table.items():
        times = "".join(f"{row['ms_per_frame'][str(b)]:11.3f}" for b in batches)
        print(f"{name:<38}{times}   {row['max_abs_error']:.1e}")
    print(f"(ms per frame; roofline {least * 1e3:.3f} ms)")
    write_json(
        OPTIONS_PATH,
        {"macs_per_frame": macs, "matmul_gflops": peak / 1e9, "roofline_ms": least * 1e3,
         "tolerance": TOLERANCE, "options": table},
    )  # fmt: skip

    def ms(name: str, batch: int) -> float:
        return table[name]["ms_per_frame"][str(batch)]

    within = [n for n, row in table.items() if row["max_abs_error"] <= TOLERANCE]
    fastest = min(within, key=lambda n: ms(n, act_batch))
    adopted = "onnx runtime"  # darla.vision.inference's default; the figures are about it
    print(f"fastest within {TOLERANCE:g} of eager at batch {act_batch}: {fastest}")
    if fastest != adopted:
        print(f"  (not the adopted {adopted}: {ms(adopted, act_batch):.3f} ms here)")
    results["encoder_vs_roofline"] = figure(
        least * 1e3 / ms(adopted, act_batch),
        "ratio",
        None,
        True,
        what="least time per frame (MACs at one core's float32 matmul rate) vs the adopted ONNX encoder's, act's batch",
    )
    results["encoder_vs_roofline_transfer"] = figure(
        least * 1e3 / ms(adopted, transfer_batch),
        "ratio",
        None,
        True,
        what="the same at transfer's batch (`transfer.batch_episodes`)",
    )
    results["encoder_onnx_vs_eager"] = figure(
        ms("eager (no_grad)", act_batch) / ms(adopted, act_batch),
        "x faster",
        None,
        True,
        what="eager PyTorch's time per frame vs ONNX Runtime's, act's batch, one thread",
    )


if __name__ == "__main__":
    from benchmarks.results import run_standalone

    run_standalone(run)
