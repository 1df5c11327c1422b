"""Data in: the dataset registry, downloads, transforms and the FusionDataModule.

Example:
    >>> from datamodules import FusionDataModule, list_datasets, load_pairs
    >>> "tno" in list_datasets()
    True
"""

from .datasets import (
    DatasetError,
    DatasetSpec,
    Pair,
    get_dataset,
    list_datasets,
    load_pairs,
    read_pair,
    resolve_data_root,
)
from .datamodule import FusionDataModule, FusionDataset

__all__ = [
    "DatasetError",
    "DatasetSpec",
    "FusionDataModule",
    "FusionDataset",
    "Pair",
    "get_dataset",
    "list_datasets",
    "load_pairs",
    "read_pair",
    "resolve_data_root",
]
