"""Relevant agencies named by the partners: category (SI 2018/789 schedule), reason, agreed
contributions, review cadence.
"""
