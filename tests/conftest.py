from collections.abc import Iterator

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
