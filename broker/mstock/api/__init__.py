"""broker.mstock.api"""
