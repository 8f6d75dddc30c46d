"""Shared pytest fixtures: a private sandbox per test and a netd inside it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox import Ecsboxd, Netd, Sandbox, build_images  # noqa: E402


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


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """An image store holding the busybox image (scripts/build-image.sh)."""
    return build_images(tmp_path_factory.mktemp("images"))


@pytest.fixture
def ecs(sb, images):
    """netd (with its default VPC) and ecsboxd in one sandbox."""
    n = Netd(sb)
    d = Ecsboxd(sb, images)
    d.netd = n
    yield d
