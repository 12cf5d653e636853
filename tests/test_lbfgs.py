"""The batched, sync-free L-BFGS: torch's algorithm, many problems at once."""

import pytest
import torch

from painterly.engine.lbfgs import BatchLBFGS


def quadratics(count, size=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    problems = []
    for _ in range(count):
        a = torch.randn(size, size, generator=generator)
        problems.append((a @ a.T / size + 0.1 * torch.eye(size), torch.randn(size, generator=generator)))
    return problems


def loss(x, problem):
    a, b = problem
    return 0.5 * x @ a @ x - b @ x


def torch_lbfgs_path(problem, steps, history):
    x = torch.zeros(problem[1].shape, requires_grad=True)
    optimizer = torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=history, tolerance_grad=0, tolerance_change=0)
    path = []
    for _ in range(steps):
        def closure():
            optimizer.zero_grad()
            value = loss(x, problem)
            value.backward()
            return value
        optimizer.step(closure)
        path.append(x.detach().clone())
    return torch.stack(path)


def batch_path(problems, steps, history, active=None):
    x = torch.zeros(len(problems), problems[0][1].shape[0], requires_grad=True)
    optimizer = BatchLBFGS(x, 1.0, history)
    path = []
    for k in range(steps):
        (grad,) = torch.autograd.grad(sum(loss(x[b], p) for b, p in enumerate(problems)), x)
        optimizer.step(x, grad, active, k)
        path.append(x.detach().clone())
    return torch.stack(path)


@pytest.mark.parametrize("history", [5, 50])
def test_each_problem_follows_torch_lbfgs(history):
    """30 steps, the history wrapping around at 5: every iterate as torch's own L-BFGS gives."""
    problems = quadratics(3)
    ours = batch_path(problems, 30, history)
    for b, problem in enumerate(problems):
        reference = torch_lbfgs_path(problem, 30, history)
        assert torch.allclose(ours[:, b], reference, atol=1e-4, rtol=1e-4), (ours[:, b] - reference).abs().max()
    # and the problems really moved: the last iterate is far from the start
    assert ours[-1].abs().max() > 1


def test_inactive_problems_do_not_move_and_others_are_unaffected():
    problems = quadratics(2)
    both = batch_path(problems, 10, 5)
    frozen = batch_path(problems, 10, 5, active=torch.tensor([True, False]))
    assert torch.equal(frozen[:, 1], torch.zeros_like(frozen[:, 1]))
    assert torch.allclose(frozen[:, 0], both[:, 0], atol=1e-6)


def test_restart_forgets_the_history():
    problems = quadratics(1)
    x = torch.zeros(1, 40, requires_grad=True)
    optimizer = BatchLBFGS(x, 1.0, 5)
    for k in range(7):
        (grad,) = torch.autograd.grad(loss(x[0], problems[0]), x)
        optimizer.step(x, grad, None, k)
    optimizer.restart()
    with torch.no_grad():
        x.zero_()
    for k in range(12):
        (grad,) = torch.autograd.grad(loss(x[0], problems[0]), x)
        optimizer.step(x, grad, None, k)
    assert torch.allclose(x.detach()[0], batch_path(problems, 12, 5)[-1, 0], atol=1e-5)
