"""DARLA's β-VAE_DAE: a β-VAE whose reconstruction is scored in a frozen DAE's feature space.

Loss: ``‖J(x̂) − J(x)‖² + β·KL(q(z|x) || N(0, I))`` with J a pretrained DAE up to
``perceptual_layer``. Why a DAE's features and not pixels: a pixel loss spends the latents'
capacity on detail the eye (and the policy) does not need and blurs what it cannot fit, while
the DAE, trained to fill in occluded patches, only represents what is predictable from scene
content. DARLA (Higgins et al., 2017) scores reconstructions at the DAE's high-level output so
that the cost ignores pixel detail the DAE cannot represent and favours semantically meaningful,
disentangled latents. The default here is the DAE's second conv layer (``conv2``): on these
frames the deeper layers (the bottleneck, the output) are blind to colour arrangements the DAE
would itself fill in, and a β-VAE_DAE scored there paints green and red fields that the DAE
scores as brick rooms; scored at the first layer (``conv1``, a bank of local colour filters) it
keeps the rooms but loses the yellow objects on the wood floor, and a linear probe reads where
the objects are from its latents less well (0.68 against conv2's 0.77, both before
``output_bias``; the DAE's own code 0.74;
``docs/notes/2026-12-01-vision-sees-the-objects.md``).
Any conv layer, the ``bottleneck`` or the ``output`` can be chosen instead.

Scale: each layer's features have their own scale (the bottleneck is linear and unbounded), so
the size of the recon term, and hence the β that balances it, depends on the layer and on the
DAE that was trained; compare ``recon`` and ``kl`` in TensorBoard when choosing β.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from darla.errors import DarlaError
from darla.vision.base import PretrainedPart
from darla.vision.checks import check_output_bias
from darla.vision.dae import DenoisingAutoencoder, check_feature_layer
from darla.vision.losses import feature_reconstruction_loss
from darla.vision.vae import BetaVAE

DAE_PREFIX = "frozen_dae."
# J: a DAE trained first on the same frames (``darla see vision=darla`` trains or reuses the
# ``vision=dae`` run of ``vision.dae``, or takes ``dae_run=PATH``), then frozen.
DAE = PretrainedPart(
    name="dae",
    run_option="dae_run",
    prefix=DAE_PREFIX,
    kind=DenoisingAutoencoder,
    what="DAE",
    trained_by=("dae",),
    hint="pass dae=<DenoisingAutoencoder> or the path to the DAE's model.safetensors "
    "(train one with build_model('dae') first)",
)
OUTPUTS: tuple[str, ...] = ("linear", "sigmoid")


class DarlaVAE(BetaVAE):
    """β-VAE_DAE. Same encoder, decoder and KL as :class:`BetaVAE`; only the recon term differs.

    The DAE is frozen for good: it is copied (later changes to the caller's DAE do not leak in),
    its parameters have ``requires_grad=False``, it stays in eval mode whatever ``train()`` is
    called with, and it is held outside ``nn.Module``'s registry, so ``parameters()`` and
    ``state_dict()`` yield only the β-VAE's own weights and ``Adam(model.parameters())`` cannot
    touch it. ``.to(device)`` still moves it (see :meth:`_apply`). ``save_model`` stores its
    weights in the same file, so one file restores the whole vision module.

    Args:
        dae: the pretrained DAE giving J.
        perceptual_layer: DAE layer J stops at: ``conv1``..``conv4``, ``bottleneck``, ``output``.
        image_size: defaults to the DAE's; must equal it.
        latent_dim, hidden_dim, beta, decoder: as for :class:`BetaVAE`. ``resize`` by default:
            J is nearly blind to the checkerboard a transposed-conv decoder paints, so that
            decoder's pixels never settle (see :class:`~darla.vision.trunk.ConvDecoder`).
        output: what J is fed. ``linear``: the decoder's output as is (images clamp it to
            [0, 1]). ``sigmoid``: squashed first, as the earlier DARLA here did; where frames
            are saturated (white or black backgrounds) the sigmoid saturates with them and J's
            gradient vanishes there: with J = conv1 that model stalled on 16 coloured squares
            at lr 1e-3 (loss 508 -> 416) where ``linear`` fell 36x.
        output_bias: the decoder's last bias at initialisation (None: PyTorch's own init). A
            linear output otherwise starts near black, where most of J's deeper ReLUs are off:
            with J = conv2 a fresh model on coloured squares on white got no gradient at all
            (loss 6213 -> 6213 in 200 steps). 0.5 starts it at mid-grey, as a sigmoid output
            starts; then it fell 24x (tests/test_vision_overfit.py).
    """

    pretrained: ClassVar[tuple[PretrainedPart, ...]] = (DAE,)
    # files from before these were choices have DARLA's first decoder and output
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {
        "decoder": "transposed",
        "output": "sigmoid",
        "output_bias": None,
    }

    def __init__(
        self,
        dae: DenoisingAutoencoder,
        perceptual_layer: str = "conv2",
        image_size: int | None = None,
        latent_dim: int = 32,
        hidden_dim: int = 256,
        beta: float = 0.25,
        decoder: str = "resize",
        output: str = "linear",
        output_bias: float | None = 0.5,
    ) -> None:
        if not isinstance(dae, DenoisingAutoencoder):
            raise DarlaError(
                f"darla needs a pretrained DAE, got {type(dae).__name__}: train one with "
                "build_model('dae') first and pass dae=<model or path to its model.safetensors>"
            )
        check_feature_layer(perceptual_layer)
        if output not in OUTPUTS:
            raise DarlaError(f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}")
        output_bias = check_output_bias(output_bias)
        dae_size = dae.config["image_size"]
        if image_size is None:
            image_size = dae_size
        if image_size != dae_size:
            raise DarlaError(
                f"image_size {image_size} differs from the DAE's {dae_size}: "
                "train the DAE on the same frames or leave image_size unset"
            )
        # decode() squashes like the pixel models with these likelihoods: sigmoid, or clamp
        likelihood = "bernoulli" if output == "sigmoid" else "gaussian"
        super().__init__(image_size, latent_dim, hidden_dim, beta, likelihood, decoder)
        del self._config["likelihood"]
        if output_bias is not None:
            with torch.no_grad():
                self.decoder.deconv[-1].bias.fill_(output_bias)
        self._config.update(
            name="darla",
            perceptual_layer=perceptual_layer,
            output=output,
            output_bias=output_bias,
            dae=dae.config,
        )
        self.hold_frozen(DAE, dae)  # outside parameters() and state_dict(); saved too

    @property
    def dae(self) -> DenoisingAutoencoder:
        """The frozen DAE (J)."""
        return self.frozen_part(DAE)

    def perceptual_features(self, x: torch.Tensor) -> torch.Tensor:
        """J(x): the frozen DAE's activation at ``perceptual_layer``."""
        return self.dae.features(x, self._config["perceptual_layer"])

    def reconstruction_loss(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """‖J(x̂) − J(x)‖², summed over feature dims and averaged over the batch.

        Gradients flow through J into x̂ (the DAE's weights do not require grad); J(x) is a
        constant target.
        """
        with torch.no_grad():
            target = self.perceptual_features(x)
        x_hat = torch.sigmoid(output) if self._config["output"] == "sigmoid" else output
        return feature_reconstruction_loss(self.perceptual_features(x_hat), target)
