"""The standalone half of the host seam: what OpenAlgo provides when hosted, ours otherwise.

``symbol_store`` plays OpenAlgo's ``symtoken`` table and symbol cache (same schema);
``session_file`` plays its ``auth`` table for the CLI's saved session. Only
:mod:`broker.mstock.host` decides which one is used.
"""
