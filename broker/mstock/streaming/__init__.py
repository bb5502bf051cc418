"""mStock market-data feed (spec 11): parser, feed client, OpenAlgo adapter, depth snapshot.

Deliberately empty: OpenAlgo imports ``broker.mstock.streaming.mstock_adapter`` while it
boots (contract 1.4), and ``websocket_proxy`` and this package import each other, so
nothing may happen here at import time.
"""
