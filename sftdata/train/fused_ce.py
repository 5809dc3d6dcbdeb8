"""Cross-entropy through the LM head in chunks, without keeping the logits.

``(hidden @ weight.T)`` for N trained positions and a 151,936-token vocabulary is
N x 607 KB in float32; autograd would keep the logits, their log-softmax and their
gradient alive at once (several GB for a few thousand trained tokens). Here each chunk of
rows computes its logits, its loss and, right away, its gradients with respect to the
hidden states and the head weight; only those gradients survive until ``backward``, which
scales them by the incoming gradient. Memory is O(chunk x vocab) whatever N is.

>>> import torch
>>> h, w, t = torch.randn(5, 4), torch.randn(11, 4), torch.tensor([1, 2, 3, 4, 5])
>>> ref = torch.nn.functional.cross_entropy(h @ w.T, t, reduction="sum")
>>> bool(torch.allclose(linear_cross_entropy_sum(h, w, t, chunk=2), ref, atol=1e-5))
True
"""

from __future__ import annotations

from typing import Any

import torch

CHUNK = 1024


class _LinearCrossEntropySum(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
        want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        compute = hidden.dtype  # the autocast dtype when the decoder ran under autocast
        grad_h = torch.empty_like(hidden) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        # explicit dtypes below; autocast would turn the in-place float32 accumulations into casts
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(compute)
            for start in range(0, hidden.shape[0], chunk):
                h = hidden[start : start + chunk]
                t = targets[start : start + chunk]
                logits = (h @ w.T).float()
                lse = torch.logsumexp(logits, dim=-1)
                total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
                if want_h or want_w:
                    # d(sum of losses)/d(logits) = softmax - one_hot(target), computed in place
                    probs = logits.sub_(lse[:, None]).exp_()
                    probs[torch.arange(t.shape[0], device=t.device), t] -= 1.0
                    if want_h:
                        grad_h[start : start + chunk] = probs.to(compute) @ w  # type: ignore[index]
                    if want_w:
                        grad_w.addmm_(probs.T, h.float())  # type: ignore[union-attr]
        ctx.save_for_backward(*(g for g in (grad_h, grad_w) if g is not None))
        ctx.wants = (want_h, want_w)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        saved = list(ctx.saved_tensors)
        want_h, want_w = ctx.wants
        grad_h = saved.pop(0) if want_h else None
        grad_w = saved.pop(0) if want_w else None
        gh = grad_h * grad_out.to(grad_h.dtype) if grad_h is not None else None
        gw = (grad_w * grad_out).to(ctx.weight_dtype) if grad_w is not None else None
        return gh, gw, None, None


def linear_cross_entropy_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``cross_entropy(hidden @ weight.T, targets, reduction="sum")`` in float32, chunked.

    Args:
        hidden: ``(N, d)`` hidden states of the trained positions only.
        weight: ``(V, d)`` LM head weight (no bias: Qwen, Llama and Mistral heads have none).
        targets: ``(N,)`` token ids.
    """
    if hidden.shape[0] == 0:
        return (hidden.sum() + weight.sum()) * 0.0
    return _LinearCrossEntropySum.apply(hidden, weight, targets, chunk)


class _LinearTokenLogprobs(torch.autograd.Function):
    """Per-position log-probability of the target through the LM head, chunked.

    The backward recomputes each chunk's logits (one more matmul) instead of keeping
    them: the per-position gradient is only known then, so nothing can be folded early.
    """

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
        out = torch.empty(hidden.shape[0], dtype=torch.float32, device=hidden.device)
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(hidden.dtype)
            for start in range(0, hidden.shape[0], chunk):
                logits = (hidden[start : start + chunk] @ w.T).float()
                t = targets[start : start + chunk]
                out[start : start + chunk] = logits.gather(1, t[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)
        ctx.save_for_backward(hidden, weight, targets)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        hidden, weight, targets = ctx.saved_tensors
        want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(hidden) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(hidden.dtype)
            for start in range(0, hidden.shape[0], ctx.chunk):
                h = hidden[start : start + ctx.chunk]
                t = targets[start : start + ctx.chunk]
                g = grad_out[start : start + ctx.chunk].float()
                # d logp / d logits = one_hot(target) - softmax, scaled by each position's gradient
                probs = torch.softmax((h @ w.T).float(), dim=-1).mul_(-g[:, None])
                probs[torch.arange(t.shape[0], device=t.device), t] += g
                if want_h:
                    grad_h[start : start + ctx.chunk] = probs.to(hidden.dtype) @ w  # type: ignore[index]
                if want_w:
                    grad_w.addmm_(probs.T, h.float())  # type: ignore[union-attr]
        return grad_h, (grad_w.to(weight.dtype) if grad_w is not None else None), None, None


def linear_token_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``log_softmax(hidden @ weight.T).gather(targets)`` per row, in float32, chunked.

    >>> import torch
    >>> h, w, t = torch.randn(5, 4), torch.randn(11, 4), torch.tensor([1, 2, 3, 4, 5])
    >>> ref = torch.log_softmax(h @ w.T, -1).gather(1, t[:, None]).squeeze(1)
    >>> bool(torch.allclose(linear_token_logprobs(h, w, t, chunk=2), ref, atol=1e-5))
    True
    """
    if hidden.shape[0] == 0:
        return torch.zeros(0, dtype=torch.float32, device=hidden.device) + (hidden.sum() + weight.sum()) * 0.0
    return _LinearTokenLogprobs.apply(hidden, weight, targets, chunk)
