"""Data-parallel training under an initialised ``torch.distributed`` process group
(``torchrun -m benchbase run``): sharded loss, gradient all-reduce, global batch-norm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch



def data_parallel() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` process group, else (0, 1).

    Under ``torchrun -m benchbase run`` every rank calls :func:`train_network` on the same
    cell: rank ``r`` of ``w`` computes samples ``r::w`` of each global batch, gradients are
    summed over the ranks (each rank's loss is its sum divided by the global batch size, so
    the sum is the single-process mean), batch-norm layers that learn their statistics use
    the global batch's (:func:`sync_batchnorm`), and every rank evaluates the validation
    and test images on identical weights. Dropout masks come from per-rank random streams,
    so a network with active dropout or drop-path differs from one process. Batch-norm
    layers learning their statistics (``freeze_bn=false``, or a ``:random`` backbone with
    ``random_init="all"``) on small batches of tiny maps can make training chaotic: float
    rounding then grows past 1e-4 within epochs, between one process at 1 and at 2 threads
    as much as between one process and the ranks.
    """
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch without distributed
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_loss(logits: Any, y: Any, y_batch: Any, multilabel: bool) -> Any:
    """This rank's share of the global batch's mean loss (``y_batch``: the whole batch)."""
    import torch.nn.functional as F

    if not multilabel:
        return F.cross_entropy(logits, y, reduction="sum") / len(y_batch)
    mask = (y != 0).float()
    loss = F.binary_cross_entropy_with_logits(logits, (y > 0).float(), reduction="none")
    return (loss * mask).sum() / (y_batch != 0).float().sum().clamp(min=1.0)


def all_reduce_grads(params: list[Any], device: Any) -> None:
    """Sum the gradients of ``params`` over the ranks (one flat buffer); a parameter no rank
    gave a gradient keeps ``None``, as in one process."""
    import torch
    import torch.distributed as dist

    has = torch.tensor([float(q.grad is not None) for q in params], device=device)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)
    live = [q for q, h in zip(params, has.tolist(), strict=True) if h > 0]
    for q in live:
        if q.grad is None:
            q.grad = torch.zeros_like(q)
    if not live:
        return
    flat = torch.cat([q.grad.reshape(-1) for q in live])
    dist.all_reduce(flat)
    offset = 0
    for q in live:
        k = q.grad.numel()
        q.grad.copy_(flat[offset : offset + k].view_as(q.grad))
        offset += k


def sync_batchnorm(model: torch.nn.Module) -> list[Any]:
    """Make every batch-norm layer of ``model`` normalise, in training mode, with the mean
    and variance of the global batch (all ranks' shares) and update its running statistics
    with them, as one process does over the whole batch; in eval mode it is unchanged.
    Works on CPU (gloo) and CUDA alike (``torch.nn.SyncBatchNorm`` is GPU-only). Returns
    the patched modules; ``del module.forward`` restores each."""
    from functools import partial

    from torch import nn

    patched = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and "forward" not in vars(module):
            module.forward = partial(_global_batchnorm, module)
            patched.append(module)
    return patched


def _global_batchnorm(module: Any, x: Any) -> Any:
    import torch
    import torch.distributed as dist

    if not module.training:
        return type(module).forward(module, x)
    shape = [1, -1] + [1] * (x.dim() - 2)
    dims = [0, *range(2, x.dim())]
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # AMP: in fp32
    count = torch.tensor([x.numel() // max(1, x.shape[1])], dtype=torch.float64, device=x.device)
    dist.all_reduce(count)
    n = float(count.item())
    if n <= 1:  # what nn.BatchNorm raises for a one-value batch
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{list(x.shape)} on this rank and {n:.0f} values per channel over all ranks"
        )
    # two reductions (mean, then squared deviations): as stable as one process's variance;
    # their backward sums the gradients of every rank's loss, as one process's does
    mean = _summed(xf.sum(dims)) / n
    centered = xf - mean.view(shape)
    var = _summed((centered * centered).sum(dims)) / n
    if module.track_running_stats and module.running_mean is not None:
        with torch.no_grad():
            module.num_batches_tracked.add_(1)
            factor = module.momentum
            if factor is None:  # cumulative moving average
                factor = 1.0 / float(module.num_batches_tracked)
            module.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            module.running_var.mul_(1 - factor).add_(var.detach() * (n / (n - 1)), alpha=factor)
    y = centered * torch.rsqrt(var + module.eps).view(shape)
    if module.affine:
        y = y * module.weight.view(shape) + module.bias.view(shape)
    return y.to(x.dtype)


_SUMMED: list[Any] = []


def _summed(tensor: Any) -> Any:
    """The sum of ``tensor`` over the ranks, differentiable: its gradient is the sum of
    the ranks' gradients (the loss being the sum of the ranks' losses)."""
    if not _SUMMED:
        import torch
        import torch.distributed as dist

        class AllReduceSum(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                x = x.clone()
                dist.all_reduce(x)
                return x

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                grad = grad.clone()
                dist.all_reduce(grad)
                return grad

        _SUMMED.append(AllReduceSum)
    return _SUMMED[0].apply(tensor)
