"""Compare a cell's outputs the way the course's regression check does: text exactly, measured numbers within a tolerance.

A printed output is split into its *skeleton* (the text with every decimal number cut out) and
its decimal numbers. Integers stay in the skeleton: counts, sizes and ids do not depend on the
floating-point hardware, so they are compared exactly like the rest of the text. Decimal numbers
printed by a cell tagged with a tolerance kind (see ``tolerances.py``) may move by that kind's
tolerance; anywhere else they must match exactly too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass

# A decimal number as Python and pandas print it: 0.0477, -1.5e-03, 12,345.6, 7.5% ('%' stays text;
# a percentage is compared as the fraction it stands for, so one tolerance serves both spellings).
DECIMAL = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class Tolerance:
    """Two printed numbers agree when ``|a - b| <= abs + rel * |reference|``."""

    abs: float
    rel: float = 0.0

    def agrees(self, reference: float, value: float) -> bool:
        return abs(value - reference) <= self.abs + self.rel * abs(reference)


def split_numbers(text: str) -> tuple[list[str], list[str]]:
    """``(skeleton pieces, decimal numbers)`` of ``text``: joining them alternately gives ``text`` back."""
    return DECIMAL.split(text), DECIMAL.findall(text)


def _values(numbers: list[str], skeleton: list[str]) -> list[float]:
    """The numbers as floats; a percentage (a number followed by '%') as the fraction it stands for."""
    return [
        float(n.replace(",", "")) / (100 if after.startswith("%") else 1) for n, after in zip(numbers, skeleton[1:])
    ]


def align_text(reference: str, text: str, tolerance: Tolerance) -> str:
    """``text`` with each number that agrees with its counterpart in ``reference`` replaced by it.

    When the skeletons differ nothing is replaced, so the texts still differ and the difference
    is reported as it is. A number outside the tolerance is left as printed, so a report shows
    exactly the numbers that moved too far.
    """
    ref_skeleton, ref_numbers = split_numbers(reference)
    skeleton, numbers = split_numbers(text)
    if skeleton != ref_skeleton:
        return text
    kept = [
        ref if ref == new or tolerance.agrees(a, b) else new
        for ref, new, a, b in zip(ref_numbers, numbers, _values(ref_numbers, skeleton), _values(numbers, skeleton))
    ]
    pieces = [skeleton[0]]
    for number, piece in zip(kept, skeleton[1:]):
        pieces += [number, piece]
    return "".join(pieces)


def _texts(output: dict) -> Iterable[tuple[dict, str]]:
    """(container, key) of every text an output holds: a stream's text, a result's text/plain."""
    if output.get("output_type") == "stream":
        yield output, "text"
    elif "data" in output and "text/plain" in output["data"]:
        yield output["data"], "text/plain"


def align_outputs(reference: list, outputs: list, tolerance: Tolerance) -> list:
    """A copy of ``outputs`` whose numbers within ``tolerance`` of ``reference``'s are replaced by them.

    Outputs are paired in order, streams by name; an output without a counterpart is kept as it is.
    """
    aligned = copy.deepcopy(list(outputs))
    references = {}
    for ref in reference:
        for holder, key in _texts(ref):
            references.setdefault((ref.get("output_type"), ref.get("name")), []).append(holder[key])
    seen: dict[tuple, int] = {}
    for output in aligned:
        kind = (output.get("output_type"), output.get("name"))
        for holder, key in _texts(output):
            index = seen.get(kind, 0)
            seen[kind] = index + 1
            candidates = references.get(kind, [])
            if index < len(candidates):
                holder[key] = align_text(_joined(candidates[index]), _joined(holder[key]), tolerance)
    return aligned


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else text


def largest_differences(reference: str, text: str) -> tuple[bool, float, float]:
    """``(same skeleton, largest absolute difference, largest relative difference)`` of two texts."""
    ref_skeleton, ref_numbers = split_numbers(reference)
    skeleton, numbers = split_numbers(text)
    if skeleton != ref_skeleton:
        return False, float("nan"), float("nan")
    largest_abs = largest_rel = 0.0
    for a, b in zip(_values(ref_numbers, skeleton), _values(numbers, skeleton)):
        largest_abs = max(largest_abs, abs(a - b))
        if a != b:
            largest_rel = max(largest_rel, abs(a - b) / max(abs(a), 1e-12))
    return True, largest_abs, largest_rel


def merge_streams(outputs: list) -> list:
    """``outputs`` with consecutive pieces of the same stream joined into one output.

    How a kernel splits printed text into messages depends on timing; joined, the same text is
    stored the same way every run.
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = _joined(previous["text"]) + _joined(output["text"])
        else:
            merged.append(copy.deepcopy(output))
    return merged


def _not_text(output: dict) -> dict:
    """Everything an output shows besides its plain text: images, HTML."""
    return {key: value for key, value in output.get("data", {}).items() if key != "text/plain"}


def read_sanitizers(path) -> list[tuple[re.Pattern, str]]:
    """The ``regex:`` / ``replace:`` pairs of an nbval sanitize file, compiled."""
    text = open(path, encoding="utf-8").read()
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)
    return [(re.compile(regex), replace) for regex, replace in pairs]


def sanitize(text: str, sanitizers: list[tuple[re.Pattern, str]]) -> str:
    for regex, replace in sanitizers:
        text = regex.sub(replace, text)
    return text


def equivalent(
    reference: list,
    outputs: list,
    tolerance: Tolerance | None,
    ignore_numbers: bool,
    sanitizers: list[tuple[re.Pattern, str]],
) -> bool:
    """Whether ``outputs`` says what ``reference`` says, as the regression check would judge it.

    Texts are sanitized, then compared exactly, within ``tolerance`` for decimal numbers, or by
    skeleton alone when ``ignore_numbers`` (cells whose output is not checked). Everything that is not
    text (images, HTML) must be identical, so a changed plot is never mistaken for an old one.
    """
    reference, outputs = merge_streams(reference), merge_streams(outputs)
    if len(reference) != len(outputs):
        return False
    for ref, new in zip(reference, outputs):
        if ref.get("output_type") != new.get("output_type") or ref.get("name") != new.get("name"):
            return False
        ref_texts, new_texts = list(_texts(ref)), list(_texts(new))
        if len(ref_texts) != len(new_texts):
            return False
        for (ref_holder, ref_key), (new_holder, new_key) in zip(ref_texts, new_texts):
            a = sanitize(_joined(ref_holder[ref_key]), sanitizers)
            b = sanitize(_joined(new_holder[new_key]), sanitizers)
            if ignore_numbers:
                if split_numbers(a)[0] != split_numbers(b)[0]:
                    return False
            elif a != (b if tolerance is None else align_text(a, b, tolerance)):
                return False
        if _not_text(ref) != _not_text(new):
            return False
    return True
