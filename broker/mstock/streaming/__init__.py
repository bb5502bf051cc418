"""broker.mstock.streaming"""
