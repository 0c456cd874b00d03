"""Analytics: pure functions over the query layer's DuckDB views (no UI imports).

Every result carries its evidence (event, trade and trace ids plus the numbers it was computed
from) and converts to `evidence.Fact`s through `to_facts()`, so reports can be number-checked.
"""
