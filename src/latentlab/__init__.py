"""latentlab: methods of 60 papers on sequential decision-making and probabilistic learning,
each with a reproduction that checks the paper's claims.

Importing latentlab sets one intra-op thread per process (see :mod:`latentlab._threads`).
"""

from latentlab._threads import configure_threads as _configure_threads

__version__ = "0.1.0"

_configure_threads()

__all__ = ["__version__"]
