"""The local backend: GluonTS's DeepAR and plain files on this machine (see backend.py)."""

from nikkei_deepar.backends.local.backend import STORE_ENTRIES, LocalBackend

__all__ = ["STORE_ENTRIES", "LocalBackend"]
