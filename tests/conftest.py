"""Fixtures every test shares."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tests' tensors are tiny: one intra-op thread is fastest, and on shared CI cores OpenMP workers spinning
    against other processes make each step tens of times slower. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
