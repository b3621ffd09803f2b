import math

import pytest
import torch

from coursekit import losses
from coursekit.losses import adaptive_bpr, adaptive_hinge, bpr, get_loss, hinge, warp

ALL_LOSSES = [bpr, hinge, adaptive_bpr, adaptive_hinge, warp]


def t(values):
    return torch.tensor(values, dtype=torch.float32)


# ------------------------------------------------------------------ hand-computed values


def test_hinge_hand_computed():
    # pos=2, neg=[1, 3]: margins 1-(2-1)=0 and 1-(2-3)=2 -> mean 1.0
    assert hinge(t([2.0]), t([[1.0, 3.0]])).item() == pytest.approx(1.0)
    # second row pos=0, neg=[0.5, -2]: 1-(0-0.5)=1.5 and 1-(0+2)=-1 -> 0; mean of (0, 2, 1.5, 0) = 0.875
    assert hinge(t([2.0, 0.0]), t([[1.0, 3.0], [0.5, -2.0]])).item() == pytest.approx(0.875)


def test_adaptive_hinge_uses_hardest_negative():
    # hardest negatives: 3 -> 1-(2-3)=2 ; 0.5 -> 1-(0-0.5)=1.5 ; mean 1.75
    assert adaptive_hinge(t([2.0, 0.0]), t([[1.0, 3.0], [0.5, -2.0]])).item() == pytest.approx(1.75)


def test_bpr_hand_computed():
    # pos=0, neg=[0, 0]: -log sigmoid(0) = log 2
    assert bpr(t([0.0]), t([[0.0, 0.0]])).item() == pytest.approx(math.log(2.0))
    # pos=1, neg=[0, 2]: (log(1+e^-1) + log(1+e^1)) / 2
    expected = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    assert bpr(t([1.0]), t([[0.0, 2.0]])).item() == pytest.approx(expected)


def test_adaptive_bpr_uses_hardest_negative():
    # hardest of [0, 2] is 2: -log sigmoid(1 - 2) = log(1 + e)
    assert adaptive_bpr(t([1.0]), t([[0.0, 2.0]])).item() == pytest.approx(math.log(1 + math.e))


def test_bpr_is_stable_for_large_gaps():
    assert bpr(t([0.0]), t([[1000.0]])).item() == pytest.approx(1000.0)
    assert bpr(t([1000.0]), t([[0.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_warp_hand_computed():
    # num_items=11, pos=2, neg=[0, 1.5, 3]: violators are neg > 1 -> first is index 1, so trials=2,
    # rank estimate floor(10/2)=5, weight log(6), margin 1-2+1.5=0.5 -> 0.5*log(6)
    assert warp(t([2.0]), t([[0.0, 1.5, 3.0]]), num_items=11).item() == pytest.approx(0.5 * math.log(6))
    # the order of negatives matters: first violator is 3 at index 0 -> weight log(11), margin 2
    assert warp(t([2.0]), t([[3.0, 1.5, 0.0]]), num_items=11).item() == pytest.approx(2 * math.log(11))
    # a row without violators contributes 0 but still counts in the mean
    assert warp(t([2.0, 5.0]), t([[0.0, 1.5, 3.0], [0.0, 1.0, 2.0]]), num_items=11).item() == pytest.approx(
        0.5 * math.log(6) / 2
    )


def test_warp_zero_when_no_violator_and_small_weight_for_late_violator():
    assert warp(t([5.0]), t([[0.0, 1.0, 3.99]]), num_items=100).item() == 0.0
    # num_items=2: first violator at index 2 -> floor(1/3)=0 -> weight log(1)=0
    assert warp(t([0.0]), t([[-5.0, -5.0, 0.0]]), num_items=2).item() == 0.0
    # ... at index 0 -> floor(1/1)=1 -> weight log 2, margin 1
    assert warp(t([0.0]), t([[0.0, -5.0, -5.0]]), num_items=2).item() == pytest.approx(math.log(2))


def test_warp_needs_num_items():
    with pytest.raises(ValueError, match="num_items"):
        warp(t([1.0]), t([[0.0]]))
    with pytest.raises(ValueError, match="num_items"):
        warp(t([1.0]), t([[0.0]]), num_items=1)


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_one_dimensional_negatives_mean_one_negative(loss):
    pos, neg = t([1.0, -0.5, 2.0]), t([0.3, 0.9, 2.5])
    assert loss(pos, neg, num_items=50).item() == pytest.approx(loss(pos, neg.unsqueeze(1), num_items=50).item())


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_shape_mismatch_names_shapes(loss):
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 4\)"):
        loss(t([1.0, 2.0, 3.0]), torch.zeros(2, 4), num_items=10)
    with pytest.raises(ValueError, match="positive_scores"):
        loss(torch.zeros(3, 1), torch.zeros(3, 4), num_items=10)
    with pytest.raises(ValueError):
        loss(torch.zeros(3), torch.zeros(3, 4, 1), num_items=10)
    with pytest.raises(ValueError):
        loss(torch.zeros(3), torch.zeros(3, 0), num_items=10)


def test_adaptive_equals_plain_with_one_negative():
    pos, neg = torch.randn(8), torch.randn(8, 1)
    assert adaptive_bpr(pos, neg).item() == pytest.approx(bpr(pos, neg).item())
    assert adaptive_hinge(pos, neg).item() == pytest.approx(hinge(pos, neg).item())


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_gradients_push_positive_up_and_negatives_down(loss):
    pos = t([0.0, 0.2]).requires_grad_()
    neg = t([[0.5, -0.1], [0.1, 0.4]]).requires_grad_()
    loss(pos, neg, num_items=20).backward()
    assert (pos.grad < 0).all()
    assert (neg.grad >= 0).all() and neg.grad.sum() > 0


def test_adaptive_gradient_only_on_hardest_negative():
    pos = t([0.0]).requires_grad_()
    neg = t([[0.5, -0.1, 0.2]]).requires_grad_()
    adaptive_hinge(pos, neg).backward()
    assert neg.grad.tolist() == [[1.0, 0.0, 0.0]]


def test_warp_gradient_only_on_first_violator():
    pos = t([2.0]).requires_grad_()
    neg = t([[0.0, 1.5, 3.0]]).requires_grad_()
    warp(pos, neg, num_items=11).backward()
    assert neg.grad[0, 1].item() == pytest.approx(math.log(6))
    assert neg.grad[0, 0].item() == 0.0 and neg.grad[0, 2].item() == 0.0
    assert pos.grad.item() == pytest.approx(-math.log(6))


# ------------------------------------------------------------------ get_loss


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bpr", bpr),
        ("hinge", hinge),
        ("adaptive_bpr", adaptive_bpr),
        ("adaptive_hinge", adaptive_hinge),
        ("adaptive", adaptive_hinge),
        ("warp", warp),
        ("BPR", bpr),
    ],
)
def test_get_loss_names(name, expected):
    assert get_loss(name) is expected


def test_get_loss_switches_to_adaptive_with_several_negatives():
    assert get_loss("bpr", num_negative_samples=5) is adaptive_bpr
    assert get_loss("hinge", num_negative_samples=2) is adaptive_hinge
    assert get_loss("warp", num_negative_samples=5) is warp
    # callables are never replaced
    assert get_loss(bpr, num_negative_samples=5) is bpr


def test_get_loss_errors():
    with pytest.raises(ValueError, match="'warp'") as info:
        get_loss("hinge_loss")
    assert "hinge_loss" in str(info.value)
    with pytest.raises(TypeError, match="loss"):
        get_loss(3)
    with pytest.raises(ValueError, match="num_negative_samples"):
        get_loss("bpr", num_negative_samples=0)


def test_losses_registry_is_complete():
    assert set(losses.LOSSES) == {"bpr", "hinge", "adaptive_bpr", "adaptive_hinge", "adaptive", "warp"}
