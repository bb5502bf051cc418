"""Order logic behind the face ``api/order_api.py`` (contract 4; spec 4, 5, 7).

``tags`` (our ``ordertag``), ``book`` (reading the order book), ``placement`` (place,
modify, cancel, each with reconciliation when the outcome is unknown), ``reconcile``,
``bulk`` (cancel all, close all), ``smart`` (smart-order sizing and the open position),
``positions`` (the smart-order position cache and per-instrument locks), ``portfolio``
(positions with LTP, holdings) and ``margin`` (order margin). The HTTP client and the
symbol lookup are passed in.
"""
