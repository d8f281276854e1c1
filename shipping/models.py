"""Shipping models."""
