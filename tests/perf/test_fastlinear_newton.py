"""The logistic solvers' own numerics: the multinomial fit stops at scipy's L-BFGS optimum
(to within its gap rule), its quasi-Newton directions meet the secant equation, its line
search minimises along each step, and fit rows taken from the refit's transformed rows fit
the same as rows transformed on their own."""

from __future__ import annotations

import numpy as np
import pytest
from benchbase_linear import fastlinear
from scipy.optimize import minimize
from scipy.special import log_softmax
from test_fastlinear import GRID, make_task

from benchbase.toolkit.selection import l2_normalize


def softmax_problem(n: int = 150, d: int = 12, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Correlated non-negative features (with the column of ones) and labels."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, k, n)
    means = np.maximum(rng.normal(0, 1, (k, d)), 0)
    x = l2_normalize(np.maximum(rng.normal(0, 1, (n, d)) + 0.8 * means[y], 0))
    return np.hstack([x, np.ones((n, 1))]), y


def objective(theta: np.ndarray, x: np.ndarray, y: np.ndarray, c: float) -> float:
    """``0.5 ||W||^2 - C sum log softmax`` in float64, the intercept (last row) unpenalised."""
    w = theta[:-1]
    return float(0.5 * (w * w).sum() - c * log_softmax(x @ theta, axis=1)[np.arange(len(y)), y].sum())


def scipy_optimum(x: np.ndarray, y: np.ndarray, k: int, c: float) -> float:
    onehot = np.eye(k)[y]

    def f_and_g(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = flat.reshape(x.shape[1], k)
        logp = log_softmax(x @ theta, axis=1)
        grad = c * x.T @ (np.exp(logp) - onehot)
        grad[:-1] += theta[:-1]
        return objective(theta, x, y, c), grad.ravel()

    res = minimize(
        f_and_g,
        np.zeros(x.shape[1] * k),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "gtol": 1e-10, "ftol": 1e-15},
    )
    return float(res.fun)


@pytest.mark.parametrize("c", [0.01, 1.0, 100.0])
def test_logistic_fit_reaches_scipys_optimum(c):
    """From zero, at its default stopping rules, the objective is within 1e-4 of the way from
    f(0) to scipy's optimum (GAP_TOL asks 1e-5 of an estimate that runs above the gap)."""
    import torch

    x, y = softmax_problem()
    k = 4
    xt = torch.as_tensor(x, dtype=torch.float32)
    basis, back = fastlinear.decorrelating_basis(xt, penalised_intercept=False)
    solver = fastlinear.TorchLinear("logistic", False, torch.device("cpu"))
    target, _ = solver.targets(y, k)
    zero = torch.zeros(x.shape[1], k)
    theta = (basis @ solver.fit(xt @ basis, target, None, c, zero, back)).double().numpy()
    ours, best = objective(theta, x, y, c), scipy_optimum(x, y, k, c)
    at_zero = c * len(y) * np.log(k)
    assert best <= ours + 1e-6 * abs(best)  # scipy did reach the optimum
    assert ours - best <= 1e-4 * (at_zero - best)


@pytest.mark.parametrize("scale", [1.0, 0.05], ids=["newton-step", "short-step"])
def test_softmax_step_minimises_along_the_direction(scale):
    """The line search's step length is the 1-D minimiser (checked on a fine grid), also
    when it lies far beyond 1."""
    import torch

    x, y = softmax_problem()
    k, c = 4, 10.0
    xt = torch.as_tensor(x, dtype=torch.float32)
    solver = fastlinear.TorchLinear("logistic", False, torch.device("cpu"))
    target, _ = solver.targets(y, k)
    r = solver.penalty_mask(x.shape[1])
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(x.shape[1], k, generator=gen)
    step = scale * torch.randn(x.shape[1], k, generator=gen)
    z, x_step = xt @ theta, xt @ step
    f, cached = solver._value(theta, z, target, None, c, r)
    unit, _ = solver._unit_gradient(z, xt, target, None, cached)
    g = r * theta + c * unit
    if float((g * step).sum()) > 0:
        step, x_step = -step, -x_step
    t = solver._softmax_step(theta, z, step, x_step, target, c, r, float((g * step).sum()))

    def phi(s: float) -> float:
        return objective((theta + s * step).double().numpy(), x, y, c)

    grid = np.linspace(0.0, 4.0 / scale, 4001)
    values = [phi(s) for s in grid]
    t_grid = grid[int(np.argmin(values))]
    assert abs(t - t_grid) <= 0.05 * t_grid + grid[1]
    assert phi(t) <= min(values) + 1e-5 * abs(min(values))


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_fit_rows_taken_from_the_refit_rows_fit_the_same(loss):
    """``Rows.index`` (the plain sweep, CNNaug) gathers the fit rows from the refit's
    transformed rows: the same fit as transforming them separately (``expand=Rows``)."""
    task = make_task(False)
    gathered = fastlinear.sweep(task, loss, l2_normalize, GRID)
    separate = fastlinear.sweep(task, loss, l2_normalize, GRID, expand=fastlinear.Rows)
    assert gathered.chosen["C"] == separate.chosen["C"]
    key = "val_" + task.metric
    assert [r[key] for r in gathered.sweep] == pytest.approx([r[key] for r in separate.sweep])
    np.testing.assert_allclose(gathered.scores, separate.scores, atol=1e-3, rtol=1e-3)


def test_lbfgs_direction_is_the_preconditioned_gradient_then_meets_the_secant_equation():
    """No pairs: ``-D^-1 g``. With pairs, the inverse-Hessian estimate maps the newest
    gradient change back onto its step (BFGS's secant equation), and the direction is a
    descent direction."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(30, 12, generator=gen)
    hessian = a.T @ a / 30 + 0.1 * torch.eye(12)  # a convex quadratic's, 12 x 3 parameters
    diag = torch.rand(12, 3, generator=gen) + 0.5
    g = torch.randn(12, 3, generator=gen)
    torch.testing.assert_close(fastlinear.lbfgs_direction(g, [], diag), -g / diag)
    pairs = []
    for _ in range(4):
        s = torch.randn(12, 3, generator=gen)
        dg = hessian @ s
        pairs.append((s, dg, 1.0 / (s * dg).sum()))
    newest_s, newest_dg, _ = pairs[-1]
    torch.testing.assert_close(
        fastlinear.lbfgs_direction(newest_dg, pairs, diag), -newest_s, rtol=1e-4, atol=1e-5
    )
    assert float((g * fastlinear.lbfgs_direction(g, pairs, diag)).sum()) < 0


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_a_fit_stopped_by_its_iteration_cap_says_so(loss):
    """One iteration cannot meet the stopping rules at C = 100: a NotConverged warning names
    the C; the default cap fits without one."""
    import warnings

    import torch

    x, y = softmax_problem()
    xt = torch.as_tensor(x, dtype=torch.float32)
    basis, back = fastlinear.decorrelating_basis(xt, penalised_intercept=loss == "squared_hinge")
    zero = torch.zeros(x.shape[1], 4)
    capped = fastlinear.TorchLinear(loss, False, torch.device("cpu"), max_iter=1)
    target, _ = capped.targets(y, 4)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fastlinear, "QUASI_NEWTON_ITERATIONS", 1)
        with pytest.warns(fastlinear.NotConverged, match="C=100"):
            capped.fit(xt @ basis, target, None, 100.0, zero, back)
    solver = fastlinear.TorchLinear(loss, False, torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastlinear.NotConverged)
        solver.fit(xt @ basis, target, None, 100.0, zero, back)
