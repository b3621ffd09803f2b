import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Tests read MovieLens from the project cache (seeded by `make data`), never the network.
os.environ.setdefault("DATA_PATH", str(ROOT / "data"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def ml100k_path() -> Path:
    path = Path(os.environ["DATA_PATH"]) / "ml-100k"
    if not (path / "u.data").exists():
        pytest.skip("MovieLens 100K cache missing: run `make data`")
    return path
