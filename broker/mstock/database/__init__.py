"""The instrument master: download, normalise (``normalize``, ``index_tokens``) and store
atomically through the host seam (``master_contract_db``, which OpenAlgo calls)."""
