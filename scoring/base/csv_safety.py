"""CSV cells a spreadsheet would run as formulas, made inert (OWASP CSV injection rule).

A lead id or label read from a CRM export can be ``=HYPERLINK("http://evil", "click")``.
Opened in Excel or Google Sheets, such a cell is a formula. OWASP's rule: a text cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``
(the CSV writer then quotes it as needed). A cell that is a plain number (``-5``,
``+3.5``) is data, not a formula, and stays as it is. Numeric columns are never touched.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def escape_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A text column with formula-leading cells prefixed by ``'``; other types unchanged."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.and_(pc.match_substring_regex(column, FORMULA_START),
                    pc.invert(pc.match_substring_regex(column, PLAIN_NUMBER)))
    quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, pa.scalar("", column.type))
    return pc.if_else(pc.fill_null(risky, False), quoted, column)


def escape_formulas(table: pa.Table) -> pa.Table:
    """Every text column of a table escaped with :func:`escape_column`."""
    return pa.table({name: escape_column(table.column(name)) for name in table.column_names})
