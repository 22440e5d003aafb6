from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import envs  # noqa: F401  (headless rendering is set up before anything imports miniworld)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models: on a busy 2-core machine a second intra-op thread mostly spins and can make
    each step 10x slower, so a module runs single-threaded and the setting is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory) -> Path:
    """One runs root for every end-to-end smoke test of the session.

    Run folders are named by a key of what they depend on and locked while written, so the
    frames, DAE, vision modules and agents one test makes at smoke sizes are reused by every
    later test that asks for the same settings, instead of each test training its own. A test
    that needs a stage to run (not be reused) asks for settings no other test uses, or checks
    reuse against what existed before it ran.
    """
    return tmp_path_factory.mktemp("smoke_runs")
