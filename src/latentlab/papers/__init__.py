"""One module per reproduced paper: ``latentlab.papers.<slug_with_underscores>``.

Each module composes methods from the family packages into the paper's experiment and
states its claims with thresholds (see :mod:`latentlab.repro.paper` for the contract).
"""
