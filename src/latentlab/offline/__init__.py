"""Offline RL: locally generated graded datasets and their metrics (TQ, SACo), discrete offline
learners, and the model-based stack (dynamics ensembles with a true-dynamics oracle behind one
interface, uncertainty penalties, truncated model rollouts, MOPO and RAVL on deeprl's SAC).
See ``docs/offline.md``."""
