"""Deadline monitoring: due soon / overdue queries, approaching and breached events from a
restart-safe scheduler, recomputation when dates are corrected.
"""
