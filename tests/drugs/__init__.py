"""Tests of the drug library (boneturnover.drugs)."""
