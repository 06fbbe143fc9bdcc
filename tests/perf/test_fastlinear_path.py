"""The C sweep's warm path: a fit started from the previous C's :class:`FitState` reuses its
products and lands where a start from its weights alone does; the proportional start is
exact in ``x @ theta`` and only used where the path was proportional to C; on a dense grid
it saves passes over the rows without changing the sweep's answer."""

from __future__ import annotations

import numpy as np
import pytest
from benchbase_linear import fastlinear
from test_fastlinear import make_task
from test_fastlinear_newton import softmax_problem

from benchbase.toolkit.selection import l2_normalize

DENSE = [float(c) for c in np.logspace(-6, 5, 45)]  # the peers' grid


def problem(loss: str):
    import torch

    x, y = softmax_problem(n=200, d=16, k=5)
    xt = torch.as_tensor(x, dtype=torch.float32)
    basis, back = fastlinear.decorrelating_basis(xt, penalised_intercept=loss == "squared_hinge")
    solver = fastlinear.TorchLinear(loss, False, torch.device("cpu"))
    target, _ = solver.targets(y, 5)
    return solver, xt @ basis, target, back


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_a_fit_from_the_previous_state_equals_one_from_its_weights(loss):
    """Reusing ``x @ theta``, the loss gradient and the column norms changes nothing."""
    import torch

    solver, x, target, back = problem(loss)
    zero = torch.zeros(x.shape[1], 5)
    first = solver.solve(x, target, None, 0.5, zero, back)
    warm = solver.solve(x, target, None, 5.0, first, back)
    cold = solver.solve(x, target, None, 5.0, first.theta, back)
    torch.testing.assert_close(warm.theta, cold.theta, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(warm.z, x @ warm.theta, rtol=1e-4, atol=1e-4)
    # the state's unit gradient is the loss's at the end point
    again = solver._unit_gradient(warm.z, x, target, None, solver._value(
        warm.theta, warm.z, target, None, 5.0, solver.penalty_mask(x.shape[1]))[1])[0]
    torch.testing.assert_close(warm.grad, again, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_proportional_start_scales_the_penalised_weights_and_its_z_is_exact(loss):
    import torch

    solver, x, target, back = problem(loss)
    r = solver.penalty_mask(x.shape[1])
    zero = torch.zeros(x.shape[1], 5)
    a = solver.solve(x, target, None, 1e-5, zero, back)
    b = solver.solve(x, target, None, 2e-5, a, back)
    guess = fastlinear.proportional_start(x, r, 4e-5, b, a)
    assert guess is not None  # strongly regularised: the weights grow like C
    theta, z = guess
    torch.testing.assert_close(z, x @ theta, rtol=1e-5, atol=1e-6)
    pen = r[:, 0] > 0
    torch.testing.assert_close(theta[pen], 2.0 * b.theta[pen])
    torch.testing.assert_close(theta[~pen], b.theta[~pen])  # the free intercept is kept
    # its weights nearer the next solution's than the previous ones are
    best = solver.solve(x, target, None, 4e-5, zero, back).theta
    assert (theta - best)[pen].norm() < 0.2 * (b.theta - best)[pen].norm()
    # weakly regularised: not proportional, no guess
    lo = solver.solve(x, target, None, 10.0, zero, back)
    hi = solver.solve(x, target, None, 20.0, lo, back)
    assert fastlinear.proportional_start(x, r, 40.0, hi, lo) is None


def counted_sweep(monkeypatch, task, loss, proportional: float):
    """The sweep, with its passes over the rows counted (a Hessian product is two, a
    quasi-Newton direction one: its ``x @ step``)."""
    import torch

    calls = {"passes": 0}
    hess, grad = fastlinear.TorchLinear._hess, fastlinear.TorchLinear._unit_gradient
    direction = fastlinear.lbfgs_direction

    def counted_direction(*a, **kw):
        calls["passes"] += 1
        return direction(*a, **kw)

    def counted_hess(self, *a, **kw):
        calls["passes"] += 2
        return hess(self, *a, **kw)

    def counted_grad(self, *a, **kw):
        calls["passes"] += 1
        return grad(self, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(fastlinear.TorchLinear, "_hess", counted_hess)
        m.setattr(fastlinear.TorchLinear, "_unit_gradient", counted_grad)
        m.setattr(fastlinear, "lbfgs_direction", counted_direction)
        m.setattr(fastlinear, "PROPORTIONAL", proportional)
        out = fastlinear.sweep(task, loss, l2_normalize, DENSE, device=torch.device("cpu"))
    return out, calls["passes"]


@pytest.mark.parametrize("multilabel", [False, True], ids=["multinomial", "binary"])
def test_a_dense_grid_sweep_answers_the_same_in_fewer_passes(monkeypatch, multilabel):
    """Logistic sweeps on the peers' 45 values: the proportional start saves passes on the
    strongly regularised C values and changes no answer (at most one validation image)."""
    loss = "logistic"
    task = make_task(multilabel, n=240, d=24, k=6, seed=2)
    plain, plain_passes = counted_sweep(monkeypatch, task, loss, -1.0)  # never proportional
    fast, fast_passes = counted_sweep(monkeypatch, task, loss, fastlinear.PROPORTIONAL)
    assert fast.chosen["C"] == plain.chosen["C"]
    metric = next(k for k in plain.sweep[0] if k.startswith("val_"))
    curve = np.array([[r[metric] for r in out.sweep] for out in (plain, fast)])
    assert np.abs(curve[0] - curve[1]).max() <= 0.021  # one validation image in 48
    np.testing.assert_allclose(fast.scores, plain.scores, rtol=0.05, atol=0.05)
    # here multinomial (L-BFGS) 306 and 295 passes (Newton-CG: 447, 421), binary 256 and 239
    assert plain_passes - fast_passes >= 8, (fast_passes, plain_passes)


@pytest.mark.parametrize("orthogonal", [True, False], ids=["in-the-basis", "any-columns"])
def test_penalised_norm_bounds_the_spectral_norm_of_any_subset_of_rows(orthogonal):
    import torch

    solver, x, _, _ = problem("logistic")
    if not orthogonal:
        x = x @ torch.randn(x.shape[1], x.shape[1], generator=torch.Generator().manual_seed(0))
    r = solver.penalty_mask(x.shape[1])
    bound = fastlinear.penalised_norm(x, r, orthogonal)
    pen = x[:, r[:, 0] > 0]
    rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    for subset in (slice(None), rows[:150], rows[:40]):
        assert float(torch.linalg.matrix_norm(pen[subset].double(), ord=2)) <= bound
    if orthogonal:  # and it is tight there (the largest column norm)
        assert bound <= 1.01 * float(torch.linalg.matrix_norm(pen.double(), ord=2)) * 1.001


def test_a_proportional_start_stops_without_a_pass_only_with_its_gradient_bounded(monkeypatch):
    """Where the gap rule holds for every gradient within the bound, the fit returns the
    proportional start without a pass; its extrapolated gradient is within ``grad_error``
    of the rows' (exact on the intercept), and the next fit does not reuse it as exact."""
    import torch

    solver, x, target, back = problem("logistic")
    r = solver.penalty_mask(x.shape[1])
    pen = r[:, 0] > 0
    norm = fastlinear.penalised_norm(x, r, True)
    zero = torch.zeros(x.shape[1], 5)
    a = solver.solve(x, target, None, 1e-5, zero, back)
    b = solver.solve(x, target, None, 2e-5, a, back)
    calls = {"n": 0}
    grad = fastlinear.TorchLinear._unit_gradient

    def counted(self, *args, **kw):
        calls["n"] += 1
        return grad(self, *args, **kw)

    with monkeypatch.context() as m:
        m.setattr(fastlinear.TorchLinear, "_unit_gradient", counted)
        c = solver.solve(x, target, None, 4e-5, b, back, a, norm)
        assert calls["n"] == 0 and c.grad_error > 0
        guess, _ = fastlinear.proportional_start(x, r, 4e-5, b, a)
        assert torch.equal(c.theta, guess)
        # the next fit from an extrapolated state makes its pass rather than trust it
        d = solver.solve(x, target, None, 8e-5, c, back, b)
        assert calls["n"] >= 1 and d.grad_error == 0
    logp = solver._value(c.theta, c.z, target, None, 4e-5, r)[1]
    exact, _ = solver._unit_gradient(c.z, x, target, None, logp)
    assert float((exact - c.grad)[pen].norm()) <= c.grad_error
    # the intercept's move is exact, to float32 sums over 200 rows of probabilities
    torch.testing.assert_close(exact[~pen], c.grad[~pen], rtol=1e-4, atol=2e-5)
    # the same fit without the bound spends its pass and returns the same weights
    plain = solver.solve(x, target, None, 4e-5, b, back, a)
    assert torch.equal(plain.theta, c.theta) and plain.grad_error == 0
    # weakly regularised: the bound is too loose to stop without a pass
    lo = solver.solve(x, target, None, 10.0, zero, back)
    hi = solver.solve(x, target, None, 20.0, lo, back)
    assert solver.solve(x, target, None, 40.0, hi, back, lo, norm).grad_error == 0


def test_a_dense_grid_sweep_is_unchanged_by_the_pass_free_stops_and_rescaled_scores(monkeypatch):
    """On the peers' 45 values the multinomial sweep's weights are identical with and without
    the stops that skip their pass, the rescaled validation scores equal the products to
    rounding, and passes are saved (counted)."""
    import torch

    task = make_task(False, n=240, d=24, k=6, seed=2)
    thetas: dict[bool, list] = {True: [], False: []}
    solve = fastlinear.TorchLinear.solve

    def sweep(bounded: bool, rescale: bool):
        def recorded(self, *args, **kw):
            if not bounded:
                args = args[:7]
            out = solve(self, *args, **kw)
            thetas[bounded].append(out.theta)
            return out

        uses = {"n": 0}
        rescaled = fastlinear.rescaled

        def counted_rescaled(*args):
            uses["n"] += (found := rescaled(*args) and rescale)
            return found

        with monkeypatch.context() as m:
            m.setattr(fastlinear.TorchLinear, "solve", recorded)
            m.setattr(fastlinear, "rescaled", counted_rescaled)
            out, passes = counted_sweep(monkeypatch, task, "logistic", fastlinear.PROPORTIONAL)
        return out, passes, uses["n"]

    fast, fast_passes, rescaled_fits = sweep(True, True)
    plain, plain_passes, none = sweep(False, False)
    assert none == 0 and rescaled_fits >= 5, rescaled_fits
    assert len(thetas[True]) == len(thetas[False]) == len(DENSE) + 1
    assert all(torch.equal(a, b) for a, b in zip(thetas[True], thetas[False]))
    assert fast.sweep == plain.sweep and fast.chosen == plain.chosen
    np.testing.assert_array_equal(fast.scores, plain.scores)
    # here 295 and 282 passes, 13 fits scored by rescaling
    assert plain_passes - fast_passes >= 5, (fast_passes, plain_passes)
