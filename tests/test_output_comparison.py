"""tools/outputs.py: the regression check compares text exactly and measured numbers within a tolerance."""

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import outputs  # noqa: E402
import tolerances  # noqa: E402
from outputs import Tolerance  # noqa: E402

LOOSE = Tolerance(abs=0.01)


def stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def result(text):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("MAP@10 0.0477   MRR 0.1816", ["0.0477", "0.1816"]),
        ("loss -1.5e-03 at 12,345.6", ["-1.5e-03", "12,345.6"]),
        ("49,426 train, 5,949 validation, 10 epochs", []),  # integers are text
        ("share 7.5% of 1.0.3 and v2.1", ["7.5"]),  # a version string is text
    ],
)
def test_only_decimal_numbers_are_split_out(text, numbers):
    skeleton, found = outputs.split_numbers(text)
    assert found == numbers
    rebuilt = skeleton[0] + "".join(n + s for n, s in zip(found, skeleton[1:]))
    assert rebuilt == text


def test_numbers_within_the_tolerance_take_the_reference_value():
    assert (
        outputs.align_text("MAP@10 0.0477 MRR 0.1816", "MAP@10 0.0483 MRR 0.1844", LOOSE) == "MAP@10 0.0477 MRR 0.1816"
    )


def test_a_number_outside_the_tolerance_is_left_as_printed():
    aligned = outputs.align_text("MAP@10 0.0477 MRR 0.1816", "MAP@10 0.0483 MRR 0.2816", LOOSE)
    assert aligned == "MAP@10 0.0477 MRR 0.2816"


@pytest.mark.parametrize("new", ["MAP@5 0.0480", "MAP@10 0.0480 !", "AUC@10 0.0480", "MAP@10 48"])
def test_a_change_of_text_or_integers_is_never_absorbed(new):
    assert outputs.align_text("MAP@10 0.0477", new, LOOSE) == new


def test_relative_tolerance_scales_with_the_reference():
    rel = Tolerance(abs=0.0, rel=0.01)
    assert rel.agrees(100.0, 100.9) and not rel.agrees(100.0, 101.1)
    assert rel.agrees(-2.0, -2.01) and not rel.agrees(0.0, 1e-9)


def test_align_outputs_pairs_streams_by_name_and_results_in_order():
    reference = [stream("a 0.100\n"), stream("warn 0.5\n", "stderr"), result("0.2500")]
    new = [stream("a 0.104\n"), stream("warn 0.9\n", "stderr"), result("0.2520")]
    aligned = outputs.align_outputs(reference, new, LOOSE)
    assert [o.get("text", o.get("data", {}).get("text/plain")) for o in aligned] == [
        "a 0.100\n",
        "warn 0.9\n",
        "0.2500",
    ]
    assert new[0]["text"] == "a 0.104\n"  # the new outputs themselves are not modified


def test_equivalent_outputs_follow_the_check_and_images_must_match():
    sanitizers = outputs.read_sanitizers(Path(__file__).resolve().parents[1] / "tutorials" / "sanitize.cfg")
    old = [stream("epoch 10/10 [00:01<00:00, 7.5it/s] fit in 1.3 s\n")]
    new = [stream("epoch 10/10 [00:02<00:00, 5.1it/s] fit in 1.9 s\n")]
    assert outputs.equivalent(old, new, None, ignore_numbers=True, sanitizers=sanitizers)
    assert not outputs.equivalent(old, new, None, ignore_numbers=False, sanitizers=sanitizers)
    assert not outputs.equivalent(old, [stream("epoch 9/10 fit in 1.3 s\n")], None, True, sanitizers)

    def plot(data):
        return nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>", "image/png": data})

    assert outputs.equivalent([plot("AAA")], [plot("AAA")], None, False, sanitizers)
    assert not outputs.equivalent([plot("AAA")], [plot("BBB")], None, False, sanitizers)


def test_tolerance_tags():
    assert tolerances.tolerance_of(["nbval-ignore-output"]) is None
    assert tolerances.tolerance_of(["approx-metrics"]) == tolerances.TOLERANCES["metrics"]
    both = tolerances.tolerance_of(["approx-metrics", "approx-embeddings"])
    assert both.abs == max(tolerances.TOLERANCES[k].abs for k in ("metrics", "embeddings"))
    with pytest.raises(ValueError, match="unknown tolerance tag approx-metric: use one of approx-metrics"):
        tolerances.tolerance_of(["approx-metric"])


def test_pieces_of_one_stream_are_merged_in_order():
    pieces = [stream("saved mf.pt"), stream("\n"), stream("oops\n", "stderr"), stream("next\n")]
    merged = outputs.merge_streams(pieces)
    assert [(o["name"], o["text"]) for o in merged] == [
        ("stdout", "saved mf.pt\n"),
        ("stderr", "oops\n"),
        ("stdout", "next\n"),
    ]
    sanitizers = outputs.read_sanitizers(Path(__file__).resolve().parents[1] / "tutorials" / "sanitize.cfg")
    assert outputs.equivalent([stream("saved mf.pt\n")], pieces[:2], None, False, sanitizers)


def test_a_percentage_is_compared_as_a_fraction():
    assert outputs.align_text("liked: 30.3% of rows", "liked: 30.6% of rows", LOOSE) == "liked: 30.3% of rows"
    assert outputs.align_text("liked: 30.3% of rows", "liked: 32.6% of rows", LOOSE) == "liked: 32.6% of rows"
    assert outputs.largest_differences("a 30.3%", "a 30.6%")[1] == pytest.approx(0.003)
