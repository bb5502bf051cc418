"""broker.mstock.mapping"""
