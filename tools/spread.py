"""Measure how far lesson outputs move between configurations (the evidence behind tolerances.py).

    python tools/spread.py REFERENCE_DIR OTHER_DIR [OTHER_DIR ...]

Each folder holds executed lessons (``run_course.py --out DIR`` under some environment, e.g.
``ATEN_CPU_CAPABILITY=default``). For every code cell whose printed text differs from the
reference's, prints the cell, its tolerance tag, whether only numbers moved, and the largest
absolute and relative move of a decimal number; then the largest move per tolerance kind.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from notebooks import SANITIZE
from outputs import _joined, _texts, largest_differences, read_sanitizers, sanitize
from tolerances import TAG_PREFIX


def cell_texts(cell) -> str:
    return "\n".join(_joined(holder[key]) for output in cell.get("outputs", []) for holder, key in _texts(output))


def compare(reference: Path, other: Path, sanitizers) -> list[tuple]:
    rows = []
    for ref_path in sorted(reference.glob("[0-9][0-9]_*.ipynb")):
        other_path = other / ref_path.name
        if not other_path.exists():
            continue
        ref_cells = nbformat.read(ref_path, as_version=4).cells
        new_cells = nbformat.read(other_path, as_version=4).cells
        for index, (ref, new) in enumerate(zip(ref_cells, new_cells)):
            if ref.cell_type != "code":
                continue
            a, b = sanitize(cell_texts(ref), sanitizers), sanitize(cell_texts(new), sanitizers)
            if a == b:
                continue
            tags = ref.metadata.get("tags", [])
            kind = ",".join(t[len(TAG_PREFIX) :] for t in tags if t.startswith(TAG_PREFIX)) or (
                "ignored" if "nbval-ignore-output" in tags else "exact"
            )
            same, largest_abs, largest_rel = largest_differences(a, b)
            rows.append((ref_path.stem, index, kind, same, largest_abs, largest_rel))
    return rows


def main(argv: list[str]) -> None:
    reference, *others = map(Path, argv)
    sanitizers = read_sanitizers(SANITIZE)
    worst: dict[str, tuple[float, float]] = {}
    for other in others:
        print(f"== {other}")
        for lesson, index, kind, same, largest_abs, largest_rel in compare(reference, other, sanitizers):
            moved = f"abs {largest_abs:.2e}  rel {largest_rel:.2e}" if same else "TEXT DIFFERS"
            print(f"  {lesson} cell {index:>2}  {kind:<10} {moved}")
            if same:
                old = worst.get(kind, (0.0, 0.0))
                worst[kind] = (max(old[0], largest_abs), max(old[1], largest_rel))
    print("== largest move per kind")
    for kind, (largest_abs, largest_rel) in sorted(worst.items()):
        print(f"  {kind:<10} abs {largest_abs:.2e}  rel {largest_rel:.2e}")


if __name__ == "__main__":
    main(sys.argv[1:])
