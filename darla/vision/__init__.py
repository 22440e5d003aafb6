"""Stage 1 vision models (DARLA's "see") behind one interface: DAE, β-VAE_DAE, β-VAE, VAE, the
disentangling VAE family (AnnealedVAE, FactorVAE, β-TCVAE), InfoGAN, a SimCLR-style
contrastive encoder, DC-IGN (clamped batches) and SCAN (symbols grounded in a frozen β-VAE).

Typical use::

    dae = build_model("dae", image_size=64)            # train with dae.loss(batch)["loss"]
    model = build_model("darla", dae=dae, beta=1.0)    # the frozen DAE is J
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)  # never includes the DAE
    save_model(model, run_dir)                         # run_dir/model.safetensors
    mu = load_model(run_dir).latent_mean(frames_uint8) # [N, 32] float32
"""

from darla.vision.annealed_vae import AnnealedVAE
from darla.vision.augment import Augmentations, augment
from darla.vision.base import (
    PretrainedPart,
    VisionModel,
    eval_mode,
    images_to_tensor,
    tensor_to_images,
)
from darla.vision.beta_tcvae import BetaTCVAE
from darla.vision.byol import BYOL
from darla.vision.contrastive import ContrastiveEncoder, nt_xent
from darla.vision.dae import FEATURE_LAYERS, DenoisingAutoencoder
from darla.vision.darla_vae import DarlaVAE
from darla.vision.dcign import DCIGN
from darla.vision.dcodr import DCoDR
from darla.vision.device import resolve_device
from darla.vision.factor_vae import FactorVAE
from darla.vision.grids import reconstruction_grid, tile_images, traversal_grid, traversal_order
from darla.vision.inference import RUNTIMES, FrozenEncoder
from darla.vision.info_vae import InfoVAE
from darla.vision.infogan import InfoGAN
from darla.vision.losses import (
    LIKELIHOODS,
    feature_reconstruction_loss,
    kl_per_dim,
    pixel_reconstruction_loss,
    reparameterize,
    tc_decomposition,
)
from darla.vision.noise import mask_images, random_masks
from darla.vision.registry import build_model, model_class, model_names, register_model
from darla.vision.scan import SCAN
from darla.vision.serialization import WEIGHTS_NAME, load_model, read_config, save_model
from darla.vision.trunk import ConvDecoder, ConvTrunk
from darla.vision.vae import BetaVAE

__all__ = [
    "BYOL",
    "DCIGN",
    "FEATURE_LAYERS",
    "LIKELIHOODS",
    "RUNTIMES",
    "SCAN",
    "WEIGHTS_NAME",
    "AnnealedVAE",
    "Augmentations",
    "BetaTCVAE",
    "BetaVAE",
    "ContrastiveEncoder",
    "ConvDecoder",
    "ConvTrunk",
    "DCoDR",
    "DarlaVAE",
    "DenoisingAutoencoder",
    "FactorVAE",
    "FrozenEncoder",
    "InfoGAN",
    "InfoVAE",
    "PretrainedPart",
    "VisionModel",
    "augment",
    "build_model",
    "eval_mode",
    "feature_reconstruction_loss",
    "images_to_tensor",
    "kl_per_dim",
    "load_model",
    "mask_images",
    "model_class",
    "model_names",
    "nt_xent",
    "pixel_reconstruction_loss",
    "random_masks",
    "read_config",
    "reconstruction_grid",
    "register_model",
    "reparameterize",
    "resolve_device",
    "save_model",
    "tc_decomposition",
    "tensor_to_images",
    "tile_images",
    "traversal_grid",
    "traversal_order",
]
