"""OpenAlgo's keep-warm hook (contract 13, optional), deliberately left without an origin.

OpenAlgo's keep-warm sends a HEAD to ``ROOT_URL`` (or ``BASE_URL``) every 20 s through
OpenAlgo's own HTTP client, whose connection pool this plugin never uses: every request to
mStock goes through the plugin's own client. So this module names no origin, OpenAlgo's
keep-warm stays idle instead of pinging mStock for nothing, and the plugin keeps its own
pool warm while a session is live (``transport/keepwarm.py``: a small authenticated read
just below mStock's idle timeout, stopped at logout or expiry).

The module itself stays: OpenAlgo imports it by name, and its absence or a failing import
would only be logged, but an empty module says on purpose that nothing is missing.
"""

from __future__ import annotations
