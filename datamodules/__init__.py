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
    Source,
    read_pair,
    read_pair_color,
    resolve_data_root,
)
from .registration import register_dataset

def __getattr__(name: str):
    # the DataModule imports Lightning: load it on first use, so `ivif-bench data` starts fast
    if name in ("FusionDataModule", "FusionDataset"):
        from . import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DatasetError",
    "DatasetSpec",
    "FusionDataModule",
    "FusionDataset",
    "Pair",
    "get_dataset",
    "list_datasets",
    "load_pairs",
    "Source",
    "read_pair",
    "read_pair_color",
    "register_dataset",
    "resolve_data_root",
]
