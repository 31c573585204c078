"""Tests of the extraction library (services/extractor/extraction)."""
