"""Fusion methods as LightningModules, behind a timm-style registry.

Example:
    >>> from lightning_modules import create_method, list_methods
    >>> model = create_method("max")
"""

from .base import FusionModule, check_pair, fuse_padded
from .registry import create_method, get_method_class, list_methods, register_method

# Importing a method module registers its methods.
from . import baselines  # noqa: F401,E402  (average, max)
from . import gan  # noqa: F401,E402  (two_layer_gan, fusiongan)
from . import didfuse  # noqa: F401,E402
from . import densefuse  # noqa: F401,E402
from . import normfuse  # noqa: F401,E402  (normfuse, rescat)
from . import ataman_akar  # noqa: F401,E402
from . import ifcnn  # noqa: F401,E402  (pretrained only: IFCNN.from_official)

__all__ = ["FusionModule", "check_pair", "create_method", "fuse_padded", "get_method_class", "list_methods", "register_method"]
