"""Data in: the dataset registry, downloads, transforms and the FusionDataModule."""
