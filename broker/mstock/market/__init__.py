"""Market data behind ``api/data.py`` (contract 9) and the margin facade (contract 8).

``quotes`` (spec 8.1), ``depth`` (spec 8.1 / 11.3), ``history`` and ``candles``
(spec 8.2, 8.3), ``intervals`` (contract 9.6). The OpenAlgo facade stays thin; the logic
lives here, with the HTTP client and the symbol lookup passed in.
"""
