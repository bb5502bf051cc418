"""The one mStock transport: every byte to and from the Type B REST API passes here.

``client`` (``MStockClient``: one ``requests.Session``, the envelope parser, retries of
idempotent reads only), ``routes`` (the route table), ``error_codes`` (mStock's codes ->
the exceptions of :mod:`broker.mstock.errors`), ``ratelimit`` (the shared limiter),
``keepwarm`` (a live session's pool kept open) and ``probe`` (what the doctor observes).
It imports nothing from the layers above it: only configuration, redaction, the error
tree and the host seam's logger.
"""
