"""Shared pytest fixtures: a private sandbox per test and a netd inside it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox import Netd, Sandbox  # noqa: E402


@pytest.fixture
def sb(tmp_path):
    s = Sandbox(tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def netd(sb):
    d = Netd(sb, extra_args=["--no-default-vpc"])
    yield d
