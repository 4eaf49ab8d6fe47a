"""Generative models: a shared diffusion core in EDM sigma, with exact Gaussian-mixture oracles.

* :mod:`~latentlab.generative.schedules` -- sigma grids, VP <-> EDM converters, preconditioning.
* :mod:`~latentlab.generative.kernels` -- Gaussian and PFGM++ noise kernels, exact empirical denoiser.
* :mod:`~latentlab.generative.gmm` -- :class:`GaussianMixture`: exact density, noised score, denoiser.
* :mod:`~latentlab.generative.sampling` -- Euler, Heun, DDIM(eta)/ancestral, consistency samplers with
  per-step records (exact Gaussian transition log-probs) and hooks.
* :mod:`~latentlab.generative.steering` -- FK steering (SMC particle system hook), best-of-n.
* :mod:`~latentlab.generative.nets`, :mod:`~latentlab.generative.losses`,
  :mod:`~latentlab.generative.training` -- denoiser networks, EDM and consistency losses, loops.
* :mod:`~latentlab.generative.data`, :mod:`~latentlab.generative.metrics` -- toys, digits,
  heavy-tailed latents; sliced Wasserstein, MMD, KL, classifier-Fréchet distance, KID.
"""

from __future__ import annotations

from latentlab.generative.data import (
                                       digits,
                                       eight_gaussians,
                                       eight_gaussians_mixture,
                                       embedded_clusters_mixture,
                                       impulsive_latents,
                                       toy,
)
from latentlab.generative.gmm import GaussianMixture
from latentlab.generative.kernels import GaussianKernel, NoiseKernel, PFGMppKernel, exact_posterior_mean
from latentlab.generative.losses import (
                                       TDQuantileScale,
                                       autoencoder_loss,
                                       consistency_training_loss,
                                       denoising_loss,
                                       gaussian_consistency_function,
                                       ict_num_scales,
                                       ict_sample_indices,
                                       ot_pairing,
                                       robust_distance,
                                       standard_normal_kl,
)
from latentlab.generative.metrics import (
                                       digits_frechet_distance,
                                       digits_kernel_distance,
                                       frechet_distance,
                                       gaussian_kl,
                                       kernel_distance,
                                       load_digits_classifier,
                                       mmd,
                                       sliced_wasserstein,
)
from latentlab.generative.nets import Denoiser, MLPAutoencoder, MLPNet, TinyUNet, quantize_weights
from latentlab.generative.sampling import (
                                       GradientGuidance,
                                       NoiseInjection,
                                       Step,
                                       StepRecorder,
                                       iterate,
                                       nfe_per_sample,
                                       sample,
                                       transition_log_prob,
)
from latentlab.generative.schedules import (
                                       ConsistencyPreconditioning,
                                       EDMPreconditioning,
                                       EDMSchedule,
                                       karras_sigmas,
                                       sample_lognormal_sigmas,
)
from latentlab.generative.steering import (
                                       FKSteering,
                                       best_of_n,
                                       classifier_log_prob,
                                       effective_sample_size,
                                       fk_sample,
                                       multinomial_resample,
                                       systematic_resample,
)
from latentlab.generative.training import train_autoencoder, train_consistency, train_denoiser

__all__ = [
    "ConsistencyPreconditioning", "Denoiser", "EDMPreconditioning", "EDMSchedule", "FKSteering", "GaussianKernel",
    "GaussianMixture", "GradientGuidance", "MLPAutoencoder", "MLPNet", "NoiseInjection", "NoiseKernel",
    "PFGMppKernel", "Step", "StepRecorder", "TDQuantileScale", "TinyUNet", "autoencoder_loss", "best_of_n",
    "classifier_log_prob", "consistency_training_loss",
    "denoising_loss", "digits", "digits_frechet_distance", "digits_kernel_distance", "effective_sample_size",
    "eight_gaussians", "eight_gaussians_mixture", "embedded_clusters_mixture", "exact_posterior_mean", "fk_sample",
    "frechet_distance", "gaussian_consistency_function", "gaussian_kl", "ict_num_scales",
    "ict_sample_indices", "impulsive_latents", "iterate", "karras_sigmas", "kernel_distance",
    "load_digits_classifier", "mmd",
    "multinomial_resample", "nfe_per_sample", "ot_pairing", "quantize_weights", "robust_distance", "sample",
    "sample_lognormal_sigmas",
    "sliced_wasserstein", "standard_normal_kl", "systematic_resample", "toy", "train_autoencoder",
    "train_consistency", "train_denoiser",
    "transition_log_prob",
]
