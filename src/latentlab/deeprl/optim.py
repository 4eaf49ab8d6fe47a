r"""A lean ``step()`` for PyTorch's fused Adam.

``torch.optim.Adam(..., fused=True).step()`` spends most of its time, for the few small tensors
of an RL network, in Python bookkeeping around one kernel: hooks, per-parameter state lookups,
grouping the tensors by device and dtype.  Inside a SAC update that is 100–250 µs per call
against a kernel of 50–150 µs.  :func:`fused_adam_step` calls the same kernel
(``torch._fused_adam_``) on the optimizer's own state, created exactly as ``Adam`` creates it
(``step`` a float32 scalar tensor, ``exp_avg`` and ``exp_avg_sq`` zeros), so the parameters,
the state and its ``state_dict()`` are bit for bit those of ``optimizer.step()``:

.. math::

    t &\leftarrow t+1,\quad m\leftarrow\beta_1m+(1-\beta_1)g,\quad v\leftarrow\beta_2v+(1-\beta_2)g^2,\\
    \theta &\leftarrow\theta-\frac{\eta}{1-\beta_1^t}\,\frac{m}{\sqrt{v/(1-\beta_2^t)}+\epsilon}
    \quad(\text{plus } \lambda\theta \text{ added to } g \text{ with weight decay } \lambda).

Anything else (another optimizer, ``amsgrad``, ``maximize``, AdamW's decoupled decay, step
hooks, parameters off the CPU or not float32) goes through ``optimizer.step()``.
"""

from __future__ import annotations

import torch
from torch.optim import optimizer as _torch_optimizer

__all__ = ["fused_adam_step"]


def fused_adam_step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``, by the lean path when ``optimizer`` is a plain fused CPU ``Adam``."""
    if not _lean_path_applies(optimizer):
        optimizer.step()
        return
    for group in optimizer.param_groups:
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            state = optimizer.state[p]
            if not state:  # as Adam._init_group creates it for fused=True
                state["step"] = torch.tensor(0.0, dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if not params:
            continue
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=float(group["lr"]), beta1=beta1,
                           beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False,
                           maximize=False)


def _lean_path_applies(optimizer: torch.optim.Optimizer) -> bool:
    if type(optimizer) is not torch.optim.Adam or getattr(optimizer, "grad_scale", None) is not None \
            or getattr(optimizer, "found_inf", None) is not None:
        return False
    if (optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
            or _torch_optimizer._global_optimizer_pre_hooks or _torch_optimizer._global_optimizer_post_hooks):
        return False
    for group in optimizer.param_groups:
        if not group["fused"] or group["amsgrad"] or group["maximize"] or group["capturable"] \
                or group["differentiable"] or group.get("decoupled_weight_decay", False) \
                or isinstance(group["lr"], torch.Tensor) or isinstance(group["betas"][0], torch.Tensor):
            return False
        if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in group["params"]):
            return False
    return True
