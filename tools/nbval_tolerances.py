"""pytest plugin for nbval: the decimal numbers of a tagged cell are compared within its tolerance.

Load it with ``-p nbval_tolerances`` (``tools/`` on ``PYTHONPATH``; ``make notebooks`` does). A code
cell tagged ``approx-<kind>`` (kinds and tolerances in ``tolerances.py``) has each decimal number of
its new output that lies within the tolerance of the stored one replaced by the stored one; nbval's
own exact comparison then runs unchanged, so text, integers and untagged cells are still compared
exactly and a failure report shows only the numbers that moved too far.
"""

from __future__ import annotations

from nbval.plugin import IPyNbCell
from outputs import align_outputs
from tolerances import tolerance_of

_exact_compare = IPyNbCell.compare_outputs


def _compare_within_tolerance(self: IPyNbCell, test: list, ref: list, skip_compare=None) -> bool:
    tolerance = tolerance_of(self.cell.metadata.get("tags", []))
    if tolerance is not None:
        test = align_outputs(ref, test, tolerance)
    return _exact_compare(self, test, ref, skip_compare)


def pytest_configure(config) -> None:
    IPyNbCell.compare_outputs = _compare_within_tolerance
