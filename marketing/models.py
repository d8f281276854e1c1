"""Marketing models."""
