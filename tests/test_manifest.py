"""Artifacts a user points a command at are checked against the manifest written with them."""

from __future__ import annotations

import pytest
from act_fixtures import act_config, vision_run

from darla.cli import main
from darla.errors import DarlaError
from darla.manifest import recorded_file, verified_file, write_manifest
from darla.stages.act import run_act


def test_a_file_is_checked_against_the_digest_recorded_when_it_was_written(tmp_path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"written once")
    write_manifest(tmp_path, stage="see", config={}, inputs={})
    assert verified_file(tmp_path, "weights.bin") == recorded_file(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(b"written twice")
    with pytest.raises(DarlaError, match=r"weights\.bin changed since it was written") as error:
        verified_file(tmp_path, "weights.bin")
    assert "\n" not in str(error.value)
    with pytest.raises(DarlaError, match=r"has no other\.bin in its manifest\.json"):
        recorded_file(tmp_path, "other.bin")


def test_act_refuses_a_vision_run_whose_weights_changed(tmp_path) -> None:
    vision = vision_run(tmp_path, "beta_vae")
    weights = vision / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # one byte: still loads
    with pytest.raises(DarlaError, match=r"model\.safetensors changed since it was written"):
        run_act(act_config(tmp_path, "beta_vae", vision=vision), progress=False)
    assert not (tmp_path / "act").exists()


def test_darla_metrics_refuses_a_run_whose_weights_changed(tmp_path, capsys) -> None:
    vision = vision_run(tmp_path, "beta_vae")
    (vision / "config.yaml").write_text("data: {domains: [A_room1], obs_size: 32}\n")
    write_manifest(vision, stage="see", config={"vision": {"name": "beta_vae"}}, inputs={})
    weights = vision / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert main(["metrics", str(vision), "--fast", "--metrics", "mig"]) == 2
    assert "model.safetensors changed since it was written" in capsys.readouterr().err
