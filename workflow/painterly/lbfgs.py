"""L-BFGS for a batch of independent problems that never waits for the device.

torch.optim.LBFGS solves one problem and reads scalars on the host every step
(``float(loss)``, ``if ys > 1e-10``, the descent check). On a GPU each read stalls the
host until the device is idle, so the next kernels cannot be queued ahead. This is the
same algorithm as torch.optim.LBFGS with ``line_search_fn=None`` and ``max_iter=1`` per
step, but every decision is a mask computed on the device, and one instance advances B
problems at once (B chains of video frames share every kernel launch). The host keeps
only the iteration number, which fixes the order of the history: the sequence of kernels
depends on nothing but that number, so an iteration can also be captured as a CUDA graph.

One difference from torch's: a curvature pair rejected by the ``ys > 1e-10`` test still
takes its history slot, with no effect (torch skips it). Rejections are rare (a converged
or frozen problem), and it keeps the kernel sequence independent of the data.
"""

from __future__ import annotations

import torch

CURVATURE_EPS = 1e-10


class BatchLBFGS:
    """Minimizes B independent problems; ``x`` is (B, ...) and problem b is ``x[b]``.

    Call ``step(x, grad, active, k)`` for iterations k = 0, 1, ... with the gradient of
    each problem's loss; problems where ``active`` is False do not move.
    """

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history_size: int = 50):
        batch, size = x.shape[0], x[0].numel()
        self.lr, self.history_size = lr, history_size
        new = lambda *shape: torch.zeros(*shape, dtype=torch.float32, device=x.device)  # noqa: E731
        self.steps, self.grad_changes, self.rho = new(history_size, batch, size), new(history_size, batch, size), new(history_size, batch)
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
            self._remember(g, iteration)
            direction = self._direction(g, iteration)
            scale = torch.full_like(self.h_diag, self.lr)
        descending = (g * direction).sum(1) <= 0
        scale = scale * descending if active is None else scale * (descending & active)
        torch.mul(direction, scale[:, None], out=self.last_step)
        x.add_(self.last_step.view_as(x))
        self.previous_grad.copy_(g)

    def _slots(self, iteration: int) -> list[int]:
        """History slots, newest first."""
        filled = min(iteration, self.history_size)
        return [(iteration - 1 - i) % self.history_size for i in range(filled)]

    def _remember(self, g: torch.Tensor, iteration: int) -> None:
        slot = (iteration - 1) % self.history_size
        y, s = self.grad_changes[slot], self.steps[slot]
        torch.sub(g, self.previous_grad, out=y)
        s.copy_(self.last_step)
        ys = (y * s).sum(1)
        accepted = ys > CURVATURE_EPS
        self.rho[slot] = torch.where(accepted, ys.reciprocal(), torch.zeros_like(ys))
        self.h_diag.copy_(torch.where(accepted, ys / (y * y).sum(1), self.h_diag))

    def _direction(self, g: torch.Tensor, iteration: int) -> torch.Tensor:
        """The two-loop recursion: the inverse-Hessian estimate applied to -g."""
        q, alphas = -g, {}
        for slot in self._slots(iteration):
            alphas[slot] = (self.steps[slot] * q).sum(1) * self.rho[slot]
            q.sub_(alphas[slot][:, None] * self.grad_changes[slot])
        r = q.mul_(self.h_diag[:, None])
        for slot in reversed(self._slots(iteration)):
            beta = (self.grad_changes[slot] * r).sum(1) * self.rho[slot]
            r.add_((alphas[slot] - beta)[:, None] * self.steps[slot])
        return r
