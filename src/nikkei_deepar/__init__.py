"""nikkei-deepar: forecast the Nikkei 225 with SageMaker DeepAR from a shell."""

__version__ = "0.1.0"
