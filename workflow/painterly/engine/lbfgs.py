"""L-BFGS for a batch of independent problems that never waits for the device.

torch.optim.LBFGS solves one problem and reads scalars on the host every step
(``float(loss)``, ``if ys > 1e-10``, the descent check). On a GPU each read stalls the
host until the device is idle, so the next kernels cannot be queued ahead. This is the
same algorithm as torch.optim.LBFGS with ``line_search_fn=None`` and ``max_iter=1`` per
step, but every decision is a mask computed on the device, and one instance advances B
problems at once (B chains of video frames share every kernel launch). The host keeps
only the iteration number, which fixes the order of the history: the sequence of kernels
depends on nothing but that number, so an iteration can also be captured as a CUDA graph.

The inverse-Hessian estimate is applied in its compact form (Byrd, Nocedal and Schnabel
1994; Nocedal and Wright eq. 7.24) instead of torch's two-loop recursion. Both compute the
same direction; the two-loop walks the history pair by pair (five small kernels per pair
and loop: two hundred launches an iteration at a history of 20, which on a GPU cost as much
as the network's own work for one frame), the compact form reads the whole history in
three matrix products and solves two small triangular systems.

One difference from torch's: a curvature pair rejected by the ``ys > 1e-10`` test still
takes its history slot, zeroed so that it has no effect (torch skips it). Rejections are
rare (a converged or frozen problem), and it keeps the kernel sequence independent of the
data.
"""

from __future__ import annotations

import contextlib

import torch

CURVATURE_EPS = 1e-10


@contextlib.contextmanager
def full_fp32_matmul():
    """The history's inner products in full fp32: TF32 (allowed for the network on CUDA)
    would round every one of them to 10 bits, and curvature is a difference of such sums."""
    allowed = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = allowed


class BatchLBFGS:
    """Minimizes B independent problems; ``x`` is (B, ...) and problem b is ``x[b]``.

    Call ``step(x, grad, active, k)`` for iterations k = 0, 1, ... with the gradient of
    each problem's loss; problems where ``active`` is False do not move.
    """

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history_size: int = 50):
        batch, size = x.shape[0], x[0].numel()
        self.lr, self.history_size = lr, history_size
        new = lambda *shape: torch.zeros(*shape, dtype=torch.float32, device=x.device)  # noqa: E731
        # Slot i's step s_i in row 2i and gradient change y_i in row 2i + 1: the pairs of the
        # first f slots are one contiguous block, read by a single matrix product.
        self.pairs = new(batch, 2 * history_size, size)
        # s_i . y_j and y_i . y_j of every two slots; a rejected pair has 1 on the diagonal of
        # the first, which leaves the triangular solves regular and the pair without effect.
        self.sy, self.yy = new(batch, history_size, history_size), new(batch, history_size, history_size)
        self.previous_grad, self.last_step = new(batch, size), new(batch, size)
        self.h_diag = torch.ones(batch, device=x.device)

    def restart(self) -> None:
        """Forget the history: the next step is iteration 0 of a new problem."""
        self.h_diag.fill_(1.0)

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor, active: torch.Tensor | None, iteration: int) -> None:
        g = grad.reshape(self.previous_grad.shape).float()
        if iteration == 0:
            direction = -g
            # torch's first step: min(1, 1/|g|_1) * lr, before any curvature is known.
            scale = g.abs().sum(1).reciprocal().clamp(max=1.0) * self.lr
        else:
            with full_fp32_matmul():
                self._remember(g, iteration)
                direction = self._direction(g, iteration)
            scale = torch.full_like(self.h_diag, self.lr)
        descending = torch.linalg.vecdot(g, direction) <= 0
        scale = scale * descending if active is None else scale * (descending & active)
        torch.mul(direction, scale[:, None], out=self.last_step)
        x.add_(self.last_step.view_as(x))
        self.previous_grad.copy_(g)

    def _filled(self, iteration: int) -> int:
        """Slots holding this problem's pairs at ``iteration``: the first min(iteration, m)."""
        return min(iteration, self.history_size)

    def _remember(self, g: torch.Tensor, iteration: int) -> None:
        """Store the newest pair (s, y) in slot (iteration - 1) mod m, and its inner products
        with every stored pair."""
        slot, filled = (iteration - 1) % self.history_size, self._filled(iteration)
        y = g - self.previous_grad
        ys = torch.linalg.vecdot(y, self.last_step)
        accepted = ys > CURVATURE_EPS
        kept = accepted.float()[:, None, None]
        newest = self.pairs[:, 2 * slot : 2 * slot + 2]
        newest.copy_(torch.stack((self.last_step, y), 1) * kept)
        # (B, 2f, 2): row 2i holds s_i . s, s_i . y; row 2i + 1 holds y_i . s, y_i . y.
        products = torch.bmm(self.pairs[:, : 2 * filled], newest.transpose(1, 2))
        s_dot_y, y_dot_s, y_dot_y = products[:, 0::2, 1], products[:, 1::2, 0], products[:, 1::2, 1]
        self.sy[:, :filled, slot] = s_dot_y
        self.sy[:, slot, :filled] = y_dot_s
        self.sy[:, slot, slot] = torch.where(accepted, ys, torch.ones_like(ys))
        self.yy[:, :filled, slot] = y_dot_y
        self.yy[:, slot, :filled] = y_dot_y
        yy = y_dot_y[:, slot]
        self.h_diag.copy_(torch.where(accepted, ys / yy, self.h_diag))

    def _direction(self, g: torch.Tensor, iteration: int) -> torch.Tensor:
        """-H g for the inverse-Hessian estimate H of the stored pairs, in compact form:
        H g = gamma g + S a - gamma Y p, with p = R^-1 S'g and a = R^-T ((D + gamma Y'Y) p - gamma Y'g),
        R the upper triangle of S'Y and D its diagonal, the pairs in the order they came."""
        filled = self._filled(iteration)
        # Once the history is full, slot (iteration mod m) holds the oldest pair: rotate the
        # small matrices into age order, and the coefficients back.
        shift = iteration % self.history_size if iteration > self.history_size else 0
        pairs = self.pairs[:, : 2 * filled]
        projections = torch.bmm(pairs, g[:, :, None])  # (B, 2f, 1): s_i . g, y_i . g
        s_g, y_g = _by_age(projections[:, 0::2], shift), _by_age(projections[:, 1::2], shift)
        sy = _by_age(self.sy[:, :filled, :filled], shift, square=True)
        yy = _by_age(self.yy[:, :filled, :filled], shift, square=True)
        gamma = self.h_diag[:, None, None]
        upper = sy.triu()
        p = torch.linalg.solve_triangular(upper, s_g, upper=True)
        w = sy.diagonal(dim1=1, dim2=2)[:, :, None] * p + gamma * (torch.bmm(yy, p) - y_g)
        a = torch.linalg.solve_triangular(upper.transpose(1, 2), w, upper=False)
        coefficients = torch.stack((_by_age(a, -shift), _by_age(-gamma * p, -shift)), 2).reshape(g.shape[0], 1, -1)
        return -torch.baddbmm(gamma * g[:, None, :], coefficients, pairs).squeeze(1)


def _by_age(values: torch.Tensor, shift: int, square: bool = False) -> torch.Tensor:
    """Slots in age order (oldest first) from ring order, where slot ``shift`` is the oldest;
    a negative shift turns age order back into ring order."""
    if not shift:
        return values
    return torch.roll(values, (-shift, -shift), (1, 2)) if square else torch.roll(values, -shift, 1)
