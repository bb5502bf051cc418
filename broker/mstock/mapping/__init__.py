"""Vocabulary tables and pure conversions between OpenAlgo and mStock shapes.

No I/O: the symbol lookup is passed in. ``codes`` and ``exchanges`` are the tables (with
derived inverses); ``transform_data``/``order_models`` build requests; ``order_data``,
``book_values`` and ``symbols`` read mStock's rows; ``margin_data`` both ways.
"""
