"""OpenAlgo's broker plugin namespace (only ``broker.mstock`` lives in this project)."""
