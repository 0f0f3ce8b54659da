"""The local backend: GluonTS's DeepAR and plain files on this machine (see backend.py)."""

from nikkei_deepar.backends.local.backend import LocalBackend
from nikkei_deepar.backends.local.files import STORE_ENTRIES

__all__ = ["STORE_ENTRIES", "LocalBackend"]
