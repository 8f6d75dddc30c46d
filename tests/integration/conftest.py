"""Shared pytest fixtures: a private sandbox per test and a netd inside it."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox import ROOT, Ecsboxd, Netd, Sandbox  # noqa: E402


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
    d = tmp_path_factory.mktemp("images")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "build-image.sh"), str(d)], check=True,
                   capture_output=True)
    return str(d)


@pytest.fixture
def ecs(sb, images):
    """netd (with its default VPC) and ecsboxd in one sandbox."""
    n = Netd(sb)
    d = Ecsboxd(sb, images)
    d.netd = n
    yield d
