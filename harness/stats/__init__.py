"""Shared statistics: bootstrap intervals, paired tests and multiplicity corrections."""
