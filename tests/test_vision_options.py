"""Bad options of the newer vision models fail in one line: at build time, and through
`darla see` before it writes a run or collects any frames (the first models': test_vision_config)."""

from __future__ import annotations

import pytest
from vision_models import tiny_model

from darla.cli import main
from darla.errors import DarlaError
from darla.vision import build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("contrastive", {"temperature": 0.0}, "temperature must be a number > 0"),
        ("contrastive", {"temperature": -0.5}, "temperature must be a number > 0"),
        ("contrastive", {"temperature": float("nan")}, "temperature must be a number > 0"),
        ("contrastive", {"crop_scale": [0.9, 0.5]}, "crop_scale must satisfy"),
        ("contrastive", {"crop_scale": [0.5]}, "crop_scale must be two numbers"),
        ("contrastive", {"shift_pad": -1}, "shift_pad must be an integer >= 0"),
        ("contrastive", {"jitter": 1.5}, "jitter must be in"),
        ("contrastive", {"projection_dim": 0}, "projection_dim must be a positive integer"),
        ("contrastive", {"beta": 4.0}, "contrastive has no beta"),
        ("infogan", {"lambda_cat": -1.0}, "lambda_cat must be a number >= 0"),
        ("infogan", {"lambda_cont": float("nan")}, "lambda_cont must be a number >= 0"),
        ("infogan", {"continuous_dim": 0, "categorical_dims": []}, "needs at least one code"),
        ("infogan", {"continuous_dim": -1}, "continuous_dim must be an integer >= 0"),
        ("infogan", {"categorical_dims": [1]}, "categorical_dims must be category counts >= 2"),
        ("infogan", {"noise_dim": 0}, "noise_dim must be a positive integer"),
        ("infogan", {"real_label": 0.3}, "real_label must be in"),
        ("infogan", {"discriminator_lr": 0.0}, "discriminator_lr must be a positive number"),
        ("infogan", {"betas": [0.5]}, "betas must be two numbers"),
        ("infogan", {"beta": 4.0}, "infogan has no beta"),
        ("infogan", {"latent_dim": 8}, "infogan has no latent_dim"),
        ("annealed_vae", {"gamma": -1.0}, "gamma must be a number >= 0"),
        ("annealed_vae", {"capacity_max": -5.0}, "capacity_max must be a number >= 0"),
        ("annealed_vae", {"capacity_start": 9}, "capacity_end 4 is before capacity_start 9"),
        ("annealed_vae", {"beta": 4.0}, "annealed_vae has no beta"),
        ("factor_vae", {"gamma": float("nan")}, "gamma must be a number >= 0"),
        ("factor_vae", {"beta": 4.0}, "factor_vae has no beta"),
        ("factor_vae", {"discriminator_betas": [0.5]}, "discriminator_betas must be two"),
        ("beta_tcvae", {"estimator": "kde"}, "unknown estimator 'kde'"),
        ("beta_tcvae", {"alpha": -1.0}, "alpha must be a number >= 0"),
        ("beta_tcvae", {"beta": -1.0}, "beta must be a number >= 0"),
        ("beta_tcvae", {"dataset_size": 0}, "dataset_size must be a positive integer"),
        ("dcign", {"latents_per_factor": 0}, "latents_per_factor must be a positive integer"),
        ("dcign", {"free_latents": -1}, "free_latents must be an integer >= 0"),
        ("dcign", {"invariance_weight": -1.0}, "invariance_weight must be a number >= 0"),
        ("dcign", {"latent_dim": 8}, "dcign has no latent_dim"),
        ("dcign", {"factor_names": None}, "dcign needs factor_names"),
        ("dcign", {"factor_names": ["a", "a"]}, "factor_names must be distinct"),
        ("scan", {"lambda_": -1.0}, "lambda_ must be a number >= 0"),
        ("scan", {"lambda": 1.0}, "spelled lambda_"),
        ("scan", {"beta": float("nan")}, "beta must be a number >= 0"),
        ("scan", {"label_dropout": 1.0}, r"label_dropout must be in \[0, 1\)"),
        ("scan", {"factor_values": [["a"]]}, "factor_values has 1 lists for 5 factor_names"),
        ("scan", {"image_size": 64}, "image_size 64 differs from the visual model's 32"),
        ("scan", {"latent_dim": 4}, "scan has no latent_dim"),
    ],
)
def test_bad_values_fail_at_build_time_in_one_line(name, options, message) -> None:
    with pytest.raises(DarlaError, match=message) as error:
        tiny_model(name, **options)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["vision=contrastive", "vision.model.temperature=0"], "temperature must be a number > 0"),
        (["vision=contrastive", "beta=4"], "contrastive has no beta"),
        (
            ["vision=infogan", "vision.model.continuous_dim=0", "vision.model.categorical_dims=[]"],
            "needs at least one code",
        ),
        (["vision=infogan", "vision.model.lambda_cat=-1"], "lambda_cat must be a number >= 0"),
        (["vision=factor_vae", "beta=4"], "factor_vae has no beta"),
        (["vision=annealed_vae", "beta=4"], "annealed_vae has no beta"),
        (["vision=annealed_vae", "vision.model.gamma=-1"], "gamma must be a number >= 0"),
        (["vision=beta_tcvae", "vision.model.estimator=kde"], "unknown estimator 'kde'"),
        (["vision=dcign", "vision.model.latents_per_factor=0"], "latents_per_factor must be"),
        (["vision=dcign", "+vision.model.latent_dim=8"], "dcign has no latent_dim"),
        (["vision=dcign", "vision.model.factor_names=[a,b]"], "do not match the factor dataset"),
        (["vision=scan", "vision.model.lambda_=-1"], "lambda_ must be a number >= 0"),
        (["vision=scan", "vision.model.label_dropout=1.5"], "label_dropout must be in [0, 1)"),
        (["vision=scan", "vision.visual.model.beta=-1"], "beta must be a number >= 0"),
        (["vision=scan", "visual_run=/nonexistent/run"], "visual_run /nonexistent/run has no"),
        (["vision=dcign", "data.dataset=mnist"], "unknown data.dataset 'mnist'"),
    ],
)
def test_darla_see_rejects_bad_values_in_one_line(overrides, message, tmp_path, capsys) -> None:
    code = main(["see", f"runs_root={tmp_path}", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("darla: error:") and "\n" not in err
    assert message in err
    assert not (tmp_path / "see").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("bias", ["abc", float("nan"), True])
def test_darla_output_bias_must_be_a_number_or_null(bias) -> None:
    dae = build_model("dae", image_size=32)
    with pytest.raises(DarlaError, match="output_bias must be a number or null"):
        build_model("darla", dae=dae, output_bias=bias)
