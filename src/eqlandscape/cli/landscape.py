"""Landscape commands: hessian and stability (issue 14)."""
