"""Catalog models."""
