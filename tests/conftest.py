import shutil
from pathlib import Path

import pytest

from crobook.data import DEFAULT_DATA_DIR


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped data folder, to break on purpose."""
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    return target


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """One full build (website and PDF) per test session, from the shipped data and default parameters."""
    from crobook.build import build

    return build(site_dir=tmp_path_factory.mktemp("site"))
