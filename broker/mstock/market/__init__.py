"""Market data behind ``api/data.py`` (contract 9).

``quotes`` (spec 8.1), ``depth`` (spec 8.1 / 11.3), ``history`` and ``candles``
(spec 8.2, 8.3), ``intervals`` (contract 9.6). The HTTP client and the symbol lookup are
passed in.
"""
