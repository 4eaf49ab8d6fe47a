"""PaRIS throughput: latentlab's vectorised PaRIS vs the ``particles`` library's PaRIS collector.

Same model (scalar LGSSM, A=0.9, Q=R=1, stationary X_0), same data, same particle count N,
M=2 backward draws, hybrid rejection/exact backward sampling, multinomial resampling at
every step, additive functional sum_t x_t x_{t-1}.  Measured: particles x time steps per
second of each implementation, and the agreement of the two estimators' distributions
(Welch t-test on the means, Kolmogorov-Smirnov two-sample test), both also against the
exact Kalman/RTS value.

``particles`` pins an old numpy, so it lives in a throwaway virtual environment
(``LATENTLAB_PARTICLES_PYTHON``, default ``/tmp/inf-bench-venv/bin/python``; create it with
``python3 -m venv /tmp/inf-bench-venv && /tmp/inf-bench-venv/bin/pip install particles``);
this module runs that interpreter on a small script that writes JSON.  If that
interpreter or ``particles`` is missing, the reference is a per-particle Python loop
(labelled ``reference = "per-particle loop (particles unavailable)"`` in the results).

Target (set before measuring): ours at least 20x more particle-steps per second, with
statistically indistinguishable estimates (both p-values > 0.01).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from latentlab.inference.smc import LagOneProduct, paris
from latentlab.inference.ssm import LinearGaussianSSM, exact_lag_one_moments

TARGET_SPEEDUP = 20.0
PARTICLES_PYTHON = os.environ.get("LATENTLAB_PARTICLES_PYTHON", "/tmp/inf-bench-venv/bin/python")

_PARTICLES_SCRIPT = r'''
import json, sys, time
import numpy as np
import particles
from particles import collectors, distributions as dists, state_space_models as ssms

args = json.load(open(sys.argv[1]))
a = args["a"]


class LG(ssms.StateSpaceModel):
    default_params = {"rho": a, "sigmaX": 1.0, "sigmaY": 1.0, "sigma0": 1.0 / np.sqrt(1 - a * a)}

    def PX0(self):
        return dists.Normal(scale=self.sigma0)

    def PX(self, t, xp):
        return dists.Normal(loc=self.rho * xp, scale=self.sigmaX)

    def PY(self, t, xp, x):
        return dists.Normal(loc=x, scale=self.sigmaY)

    def upper_bound_log_pt(self, t):
        return -np.log(self.sigmaX) - 0.5 * np.log(2 * np.pi)

    def add_func(self, t, xp, x):
        return np.zeros_like(x) if t == 0 else xp * x


y = np.array(args["y"])
np.random.seed(args["seed"])
estimates = []
start = time.perf_counter()
for _ in range(args["reps"]):
    fk = ssms.Bootstrap(ssm=LG(), data=y)
    alg = particles.SMC(fk=fk, N=args["N"], resampling="multinomial", ESSrmin=1.0,
                        collect=[collectors.Paris(Nparis=2)])
    alg.run()
    estimates.append(float(alg.summaries.paris[-1]))
seconds = time.perf_counter() - start
from importlib.metadata import version
json.dump({"estimates": estimates, "seconds": seconds, "version": version("particles")},
          open(sys.argv[2], "w"))
'''


def _model(a: float) -> LinearGaussianSSM:
    return LinearGaussianSSM.scalar(a)


def _run_particles(a: float, y: np.ndarray, n: int, reps: int, seed: int) -> dict | None:
    if not Path(PARTICLES_PYTHON).exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script, args, out = Path(tmp) / "paris_particles.py", Path(tmp) / "args.json", Path(tmp) / "out.json"
        script.write_text(_PARTICLES_SCRIPT)
        args.write_text(json.dumps({"a": a, "y": y[:, 0].tolist(), "N": n, "reps": reps, "seed": seed}))
        proc = subprocess.run([PARTICLES_PYTHON, str(script), str(args), str(out)], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        if proc.returncode != 0 or not out.exists():
            return None
        return json.loads(out.read_text())


def _run_loop_reference(model: LinearGaussianSSM, y: np.ndarray, n: int, reps: int, seed: int) -> dict:
    """Fallback reference: PaRIS with exact backward draws, one Python iteration per particle."""
    rng = np.random.default_rng(seed)
    estimates = []
    start = time.perf_counter()
    for _ in range(reps):
        x = model.sample_initial(rng, (n,))[:, 0]
        log_w = model.observation_logpdf(x[:, None], y[0], 0)
        tau = np.zeros(n)
        for t in range(1, len(y)):
            w = np.exp(log_w - log_w.max())
            w /= w.sum()
            x_prev, tau_prev = x, tau
            x = model.A[0, 0] * x_prev[rng.choice(n, n, p=w)] + rng.standard_normal(n)
            tau = np.empty(n)
            for i in range(n):
                lw = log_w - 0.5 * (x[i] - model.A[0, 0] * x_prev) ** 2
                p = np.exp(lw - lw.max())
                j = rng.choice(n, 2, p=p / p.sum())
                tau[i] = np.mean(tau_prev[j] + x_prev[j] * x[i])
            log_w = model.observation_logpdf(x[:, None], y[t], t)
        w = np.exp(log_w - log_w.max())
        estimates.append(float(np.sum(w * tau) / w.sum()))
    return {"estimates": estimates, "seconds": time.perf_counter() - start}


def run(quick: bool = False) -> dict:
    a, n_steps, n = 0.9, (30 if quick else 50), (100 if quick else 200)
    reps_ref, reps_ours = (8 if quick else 40), 200
    model = _model(a)
    _, y = model.simulate(n_steps, np.random.default_rng(0))
    exact = float(exact_lag_one_moments(model, y)[0][0, 0])

    paris(model, y, LagOneProduct(1), n, np.random.default_rng(1), replicates=2, backward="hybrid")  # warm-up
    start = time.perf_counter()
    ours = paris(model, y, LagOneProduct(1), n, np.random.default_rng(2), replicates=reps_ours,
                 backward="hybrid").estimate[:, 0]
    ours_seconds = time.perf_counter() - start

    ref = _run_particles(a, y, n, reps_ref, seed=3)
    label = f"particles {ref['version']} (Paris collector, separate venv)" if ref else \
        "per-particle loop (particles unavailable)"
    if ref is None:
        ref = _run_loop_reference(model, y, n, reps_ref, seed=3)
    ref_est = np.array(ref["estimates"])
    steps = n_steps + 1
    ours_rate = reps_ours * n * steps / ours_seconds
    ref_rate = reps_ref * n * steps / ref["seconds"]
    welch = stats.ttest_ind(ours, ref_est, equal_var=False)
    ks = stats.ks_2samp(ours, ref_est)
    agree = bool(welch.pvalue > 0.01 and ks.pvalue > 0.01)
    return {
        "measurements": {
            "reference": label,
            "model": f"scalar LGSSM a={a}, Q=R=1, T={n_steps}, N={n}, M=2, hybrid backward, multinomial",
            "ours particle-steps/s": ours_rate,
            "reference particle-steps/s": ref_rate,
            "ours replicates": reps_ours,
            "reference replicates": reps_ref,
            "exact (Kalman/RTS)": exact,
            "ours mean, sd": [float(ours.mean()), float(ours.std(ddof=1))],
            "reference mean, sd": [float(ref_est.mean()), float(ref_est.std(ddof=1))],
            "welch p-value": float(welch.pvalue),
            "ks p-value": float(ks.pvalue),
            "estimates indistinguishable (both p > 0.01)": agree,
            "load average (1 min)": os.getloadavg()[0],
        },
        "ratios": {
            "PaRIS particle-steps/s, ours / reference": {"value": ours_rate / ref_rate, "target": TARGET_SPEEDUP,
                                                          "better": "higher"},
            "estimates agree (1 = both p > 0.01)": {"value": float(agree), "target": 1.0, "better": "higher"},
        },
    }
