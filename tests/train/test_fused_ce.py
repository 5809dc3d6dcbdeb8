from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from sftdata.train.fused_ce import linear_cross_entropy_sum  # noqa: E402


@pytest.mark.parametrize(("n", "chunk", "weight_grad"), [(37, 8, True), (37, 64, True), (5, 2, False), (0, 4, True)])
def test_matches_plain_cross_entropy_values_and_gradients(n: int, chunk: int, weight_grad: bool) -> None:
    g = torch.Generator().manual_seed(n)
    hidden = torch.randn(n, 16, generator=g, requires_grad=True)
    weight = torch.randn(300, 16, generator=g, requires_grad=weight_grad)
    targets = torch.randint(0, 300, (n,), generator=g)
    fused = linear_cross_entropy_sum(hidden, weight, targets, chunk=chunk)
    (fused * 0.5).backward()
    got = (hidden.grad.clone() if n else None, weight.grad.clone() if weight_grad else None)
    hidden.grad = None
    weight.grad = None
    plain = torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    (plain * 0.5).backward()
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5)
    if n:
        torch.testing.assert_close(got[0], hidden.grad, rtol=1e-5, atol=1e-6)
    if weight_grad:
        torch.testing.assert_close(got[1], weight.grad, rtol=1e-5, atol=1e-6)


def test_bf16_autocast_is_close_to_float32() -> None:
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(20, 32, generator=g)
    weight = torch.randn(500, 32, generator=g) * 0.1
    targets = torch.randint(0, 500, (20,), generator=g)
    ref = torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    got = linear_cross_entropy_sum(hidden.bfloat16(), weight, targets)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(float(ref), rel=2e-2)
