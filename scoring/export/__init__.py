"""Export: an approved model leaves leadcal as YAML, SQL, a dbt model or a standalone HTML report.

It owns the scoring SQL built once as a sqlglot tree and rendered per dialect (``sql``),
the point-in-time feature query for the warehouse (``features_sql``), the dbt model
(``dbt``), the standalone HTML report (``html``), the plotly figures the app and the
report draw (``charts``), and the text or folder of an export of one stored version, by
format (``render``).

May import: base, model, data, analysis, registry.
"""
