import os
import subprocess
import sys


def _threads(env_updates):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LATENTLAB_NUM_THREADS",
                                                             "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env.update(env_updates)
    code = ("import torch, latentlab, os; print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_latentlab_sets_one_thread_even_after_torch():
    assert _threads({}) == ["1", "1"]


def test_user_choice_is_respected():
    assert _threads({"LATENTLAB_NUM_THREADS": "2"}) == ["2", "2"]
    assert _threads({"OMP_NUM_THREADS": "2"}) == ["2", "2"]


def test_bad_thread_count_names_the_variable():
    env = {**os.environ, "LATENTLAB_NUM_THREADS": "zero"}
    proc = subprocess.run([sys.executable, "-c", "import latentlab"], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "LATENTLAB_NUM_THREADS must be a positive integer" in proc.stderr
