"""Each lesson alone in a fresh data folder, and the course in reverse order, reproduce their stored outputs.

A learner on Colab opens one lesson on a new machine: nothing that an earlier lesson saved is
there. This check gives every lesson a data folder holding only ``ml-100k/`` and runs the notebook
check on it alone; then it runs the whole course backwards in one more fresh folder, so a lesson
that silently relied on what an earlier one left behind, or on the global random state, fails.

    python tools/check_isolation.py [NAME ...]     # exit status 1 when any run fails
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from notebooks import SANITIZE, TUTORIALS, lessons

TOOLS = Path(__file__).resolve().parent


def fresh_data_folder(parent: Path, movielens: Path) -> Path:
    """A new data folder under ``parent`` holding only a link to the ``ml-100k`` folder ``movielens``."""
    folder = Path(tempfile.mkdtemp(dir=parent, prefix="data-"))
    (folder / "ml-100k").symlink_to(movielens.resolve(), target_is_directory=True)
    return folder


def notebook_check(notebooks: list[Path], data: Path, library: Path | None = None) -> subprocess.CompletedProcess:
    """Run the course's notebook check (nbval with the tolerances) on ``notebooks``, in this order.

    ``data`` becomes the kernels' ``DATA_PATH``; ``library``, a folder holding a ``coursekit/``
    package, is imported instead of the installed one.
    """
    path = [str(library)] if library is not None else []
    path += [str(TOOLS), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "DATA_PATH": str(data), "PYTHONPATH": os.pathsep.join(filter(None, path))}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "nbval_tolerances",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(SANITIZE),
        *map(str, notebooks),
    ]
    cwd = notebooks[0].parent if library is not None else TUTORIALS.parent
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=cwd)


def movielens_folder() -> Path:
    folder = Path(os.environ.get("DATA_PATH", TUTORIALS.parent / "data")) / "ml-100k"
    if not (folder / "u.data").exists():
        sys.exit(f"no MovieLens 100K at {folder}: run `make data` or set DATA_PATH")
    return folder


def main(names: list[str]) -> int:
    chosen = [p.with_suffix(".ipynb") for p in lessons() if not names or any(n in p.name for n in names)]
    runs = [(f"{nb.stem} alone", [nb]) for nb in chosen]
    if len(chosen) > 1:
        runs.append(("course in reverse order", chosen[::-1]))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="coursekit-isolation-") as parent:
        for title, notebooks in runs:
            result = notebook_check(notebooks, fresh_data_folder(Path(parent), movielens_folder()))
            summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"{title:<32} {'ok' if result.returncode == 0 else 'FAILED'}   {summary}", flush=True)
            if result.returncode != 0:
                failed += 1
                print(result.stdout[-6000:], result.stderr[-2000:], sep="\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
