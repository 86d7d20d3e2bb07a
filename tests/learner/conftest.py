"""Fixtures of the learner tests (synthetic batches live in learner_batches.py)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These tensors are tiny: one intra-op thread is fastest, and on a shared 2-core machine OpenMP workers
    spinning against other processes make each update tens of times slower. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
