"""Functional metrics: ``fn(fused, ir, vis) -> Tensor[N]``, one value per image."""
