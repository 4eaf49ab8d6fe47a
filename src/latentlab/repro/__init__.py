"""The reproduction framework: paper contract, registry, runner, run store, report, statistics.

Nothing in here knows about any method; paper modules in :mod:`latentlab.papers` plug in.
"""

from latentlab.repro.context import Diverged, RunContext
from latentlab.repro.paper import BUDGETS, Budget, Claim, Paper, Verdict

__all__ = ["BUDGETS", "Budget", "Claim", "Diverged", "Paper", "RunContext", "Verdict"]
