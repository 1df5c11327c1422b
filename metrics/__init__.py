"""Fusion quality metrics as torchmetrics ``Metric`` classes with functional twins."""
