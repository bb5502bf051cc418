"""Order logic behind the thin facade ``api/order_api.py`` (contract 4; spec 4, 5).

``tags`` (our ``ordertag``), ``book`` (reading the order book), ``placement`` (place,
modify, cancel, each with reconciliation when the outcome is unknown), ``bulk`` (cancel
all, close all), ``smart`` (smart-order sizing) and ``portfolio`` (positions with LTP,
holdings). The HTTP client and the symbol lookup are passed in.
"""
