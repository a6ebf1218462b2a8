"""Contributions per financial year per contributor, and the equity analysis."""
