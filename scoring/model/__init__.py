"""The scoring model: what a score is, computed in memory from per-lead features, and what it is worth.

It owns the typed config (``config``: pydantic, YAML in and out, located errors), the
features the engine reads (``features``: aligned per-lead arrays, specs, decayed sums over
the kept events; ``activity``: an activity kept sparse; ``findings``: what the data needed
worked around), the engine (``engine``), re-scoring after a slider move (``rescore``) and
its compiled loops (``kernels``), the statistics (``metrics``: band table, Wilson
intervals, AUC / Gini / KS, tiers), won revenue by band and tier (``revenue``), account scores
from their leads' (``accounts``), the KPI row, movers, grid and histogram (``kpis``) and
the readable diff of two configs (``diff``). numpy on arrays already in memory: nothing
here queries a database, so a slider move never touches the data.

May import: base.
"""
