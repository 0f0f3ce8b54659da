"""The SageMaker backend: training, hosting and batch on SageMaker, data in S3 (see backend.py)."""

from nikkei_deepar.backends.sagemaker.backend import SageMakerBackend

__all__ = ["SageMakerBackend"]
