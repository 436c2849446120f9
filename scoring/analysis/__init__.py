"""Analysis: what the meeting and ops read off the data, as typed results the pages, the CLI and the reports share.

It owns the calibration result of one model (``report``: band table, AUC / Gini / KS,
tiers, what ``leadcal report`` prints), the Calibrate page's draft-vs-approved view
(``calibrate``) and what an approval records (``evidence``), attribute lift / WoE / IV
(``attributes``), the one definition of a post-outcome column (``leakage``), suggested
points, decay, thresholds and calibration (``suggest``), score drift per cohort
(``drift``), data quality per cohort (``dataquality``), both together as the scheduled
check (``monitor``), and every figure's one-sentence meaning (``glossary``).

May import: base, model, data.
"""
