"""mStock (Mirae Asset) Type B OpenAPI plugin for OpenAlgo.

Importing this package does no work: no network, no environment reads, no database.
OpenAlgo imports the sub-modules it needs (see ``openalgo-contract.md`` section 0).
"""

__version__ = "0.1.0"
