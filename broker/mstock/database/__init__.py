"""broker.mstock.database"""
