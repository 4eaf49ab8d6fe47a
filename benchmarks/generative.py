"""Diffusion core speed: Heun sampling against diffusers' schedulers, FK steering against a per-particle loop.

Measured in the same process and run (one torch thread):

* ``heun``: samples per second of the 18-step EDM Heun sampler (35 NFE) of
  :func:`latentlab.generative.sample` on 2-D data, batch 4096, with an ``MLPNet(2, 128, 2)``
  denoiser under EDM preconditioning; reference: the same denoiser driven by diffusers'
  ``HeunDiscreteScheduler`` (Karras sigmas, ``prediction_type="sample"``, 18 steps, its own
  input scaling undone so the network sees the same inputs).  ``euler``: our Euler sampler
  against diffusers' ``EDMEulerScheduler`` on the identical sigma grid (the outputs are compared:
  they must agree to round-off, a correctness check of both).
* ``denoiser_floor``: the 35 denoiser evaluations of an 18-step Heun run alone (same network, batch
  and noise levels, no sampler arithmetic).  Any 18-step Heun sampler, ours or diffusers', needs
  at least this time, so ``diffusers_heun_time / floor_time`` bounds the ratio *any* sampler could
  reach against diffusers with this denoiser (reported as ``heun_vs_diffusers_upper_bound``).
* ``fk``: particles per second of :func:`latentlab.generative.fk_sample` (exact Gaussian-mixture
  base model, ancestral steps, DIFF potential, resampling every 10 steps) against a straightforward
  loop that moves one particle at a time through the same denoiser and resamples each system with
  numpy.

diffusers is not a dependency: it is imported from ``LATENTLAB_DIFFUSERS_PATH`` (default
``/tmp/gen-bench-venv/site``, installed with ``pip install --no-deps --target``) or the environment;
without it the diffusers ratios are reported as missing.

Targets (set before measuring, from the issue): at least 2x diffusers' Heun throughput; at
least 10x the per-particle FK loop.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import torch

from latentlab.generative import Denoiser, MLPNet, eight_gaussians_mixture, fk_sample, karras_sigmas, sample

HEUN_TARGET = 2.0
EULER_TARGET = 1.0
FK_TARGET = 10.0
BATCH = 4096
N_STEPS = 18


def _import_diffusers():
    path = os.environ.get("LATENTLAB_DIFFUSERS_PATH", "/tmp/gen-bench-venv/site")
    if os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)
    try:
        import diffusers  # noqa: F401
        from diffusers import EDMEulerScheduler, HeunDiscreteScheduler
    except Exception as error:  # noqa: BLE001 - any import failure means "not available"
        return None, f"{type(error).__name__}: {error}"
    return (HeunDiscreteScheduler, EDMEulerScheduler), diffusers.__version__


def _best_time(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _best_times(fns: dict, repeats: int) -> dict[str, float]:
    """Best wall time of each function, measured in alternation (so load changes hit all alike)."""
    best = {name: math.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _diffusers_heun(scheduler_cls, model, x0: torch.Tensor) -> torch.Tensor:
    scheduler = scheduler_cls(use_karras_sigmas=True, prediction_type="sample")
    scheduler.set_timesteps(N_STEPS)
    x = x0 * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        scaled = scheduler.scale_model_input(x, t)
        sigma = scheduler.sigmas[scheduler.step_index]
        denoised = model(scaled * torch.sqrt(sigma**2 + 1), sigma)  # the network sees x_sigma, as in ours
        x = scheduler.step(denoised, t, x).prev_sample
    return x


def _diffusers_edm_euler(scheduler_cls, model, x0: torch.Tensor) -> torch.Tensor:
    scheduler = scheduler_cls(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5, rho=7.0)
    scheduler.set_timesteps(N_STEPS)
    scheduler.is_scale_input_called = True  # our Denoiser applies EDM's c_in itself
    x = x0 * scheduler.sigmas[0]
    for i, t in enumerate(scheduler.timesteps):
        denoised = model(x, scheduler.sigmas[i])
        x = scheduler.step(denoised, t, x, pred_original_sample=denoised).prev_sample
    return x


def _sampler_benchmark(quick: bool) -> tuple[dict, dict]:
    torch.manual_seed(0)
    model = Denoiser(MLPNet(2, 128, 2)).eval()
    x0 = torch.randn(BATCH, 2, generator=torch.Generator().manual_seed(1))
    sigmas = karras_sigmas(N_STEPS, 0.002, 80.0).float()
    repeats = 2 if quick else 5
    heun_levels = torch.cat([sigmas[:-1], sigmas[1:-1]])  # Heun: one evaluation per level, a second except at the end
    fns = {"ours_heun": lambda: sample(model, 80.0 * x0, sigmas, "heun"),
           "ours_euler": lambda: sample(model, 80.0 * x0, sigmas, "euler"),
           "denoiser_floor": lambda: [model(80.0 * x0, level) for level in heun_levels]}
    classes, version = _import_diffusers()
    if classes is not None:
        heun_cls, euler_cls = classes
        fns["diffusers_heun"] = lambda: _diffusers_heun(heun_cls, model, x0)
        fns["diffusers_edm_euler"] = lambda: _diffusers_edm_euler(euler_cls, model, x0)
    with torch.no_grad():
        times = _best_times(fns, repeats)
    ours_heun, ours_euler, floor = times["ours_heun"], times["ours_euler"], times["denoiser_floor"]
    measurements = {"ours_heun_samples_per_s": BATCH / ours_heun, "ours_euler_samples_per_s": BATCH / ours_euler,
                    "denoiser_floor_samples_per_s": BATCH / floor, "heun_denoiser_evaluations": len(heun_levels),
                    "ours_heun_time_over_floor": ours_heun / floor, "diffusers": version}
    ratios = {}
    if classes is None:
        return ratios, measurements
    ref_heun, ref_euler = times["diffusers_heun"], times["diffusers_edm_euler"]
    with torch.no_grad():
        ours_out = sample(model, 80.0 * x0, sigmas, "euler")
        ref_out = _diffusers_edm_euler(euler_cls, model, x0)
    measurements.update({
        "diffusers_heun_samples_per_s": BATCH / ref_heun,
        "diffusers_edm_euler_samples_per_s": BATCH / ref_euler,
        "euler_max_abs_difference": float((ours_out - ref_out).abs().max()),
        "heun_vs_diffusers_upper_bound": ref_heun / floor,
    })
    ratios["heun_vs_diffusers"] = {"value": ref_heun / ours_heun, "target": HEUN_TARGET, "better": "higher"}
    ratios["euler_vs_diffusers_edm"] = {"value": ref_euler / ours_euler, "target": EULER_TARGET, "better": "higher"}
    return ratios, measurements


def _fk_loop(base, prior: torch.Tensor, sigmas: list[float], reward, strength: float, k: int, every: int,
             rng: np.random.Generator, generator: torch.Generator) -> torch.Tensor:
    """Reference: one particle at a time through the same ancestral step and DIFF potential."""
    particles = [prior[i:i + 1] for i in range(prior.shape[0])]
    prev = [0.0] * len(particles)
    n_steps = len(sigmas) - 1
    for i in range(n_steps):
        s, s_next = sigmas[i], sigmas[i + 1]
        rewards = []
        for j, x in enumerate(particles):
            denoised = base(x, torch.tensor(s, dtype=x.dtype))
            std = s_next * math.sqrt(max(0.0, 1 - (s_next / s) ** 2))
            mean = denoised + math.sqrt(max(0.0, s_next**2 - std**2)) * (x - denoised) / s
            particles[j] = mean + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)
            rewards.append(float(reward(denoised)))
        if i % every == every - 1 or i == n_steps - 1:
            new, new_prev = [], []
            for start in range(0, len(particles), k):
                log_w = np.array([strength * (rewards[j] - prev[j]) for j in range(start, start + k)])
                w = np.exp(log_w - log_w.max())
                picks = rng.choice(k, size=k, p=w / w.sum())
                new += [particles[start + p] for p in picks]
                new_prev += [rewards[start + p] for p in picks]
            particles, prev = new, new_prev
    return torch.cat(particles)


def _fk_benchmark(quick: bool) -> tuple[dict, dict]:
    base = eight_gaussians_mixture(std=0.3)
    a = torch.tensor([1.0, 0.5], dtype=torch.float64)
    reward = lambda x: x @ a  # noqa: E731
    k, n_steps, every = 16, (30 if quick else 50), 10
    sigmas = karras_sigmas(n_steps, 0.002, 20.0)
    n_vec, n_loop = 4096, (64 if quick else 256)
    gen = torch.Generator().manual_seed(0)
    prior_vec = 20.0 * torch.randn(n_vec, 2, generator=gen, dtype=torch.float64)
    prior_loop = prior_vec[:n_loop]
    t_vec = _best_time(lambda: fk_sample(base, prior_vec, sigmas, reward, 1.0, k, resample_every=every,
                                         generator=torch.Generator().manual_seed(1)), 2)
    t_loop = _best_time(lambda: _fk_loop(base, prior_loop, sigmas.tolist(), reward, 1.0, k, every,
                                         np.random.default_rng(0), torch.Generator().manual_seed(1)), 1)
    vec_rate, loop_rate = n_vec / t_vec, n_loop / t_loop
    return ({"fk_vs_particle_loop": {"value": vec_rate / loop_rate, "target": FK_TARGET, "better": "higher"}},
            {"fk_particles_per_s": vec_rate, "loop_particles_per_s": loop_rate, "fk_steps": n_steps})


def run(quick: bool = False) -> dict:
    ratios, measurements = _sampler_benchmark(quick)
    fk_ratios, fk_measurements = _fk_benchmark(quick)
    ratios.update(fk_ratios)
    measurements.update(fk_measurements)
    measurements["torch_threads"] = torch.get_num_threads()
    return {"ratios": ratios, "measurements": measurements}


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
