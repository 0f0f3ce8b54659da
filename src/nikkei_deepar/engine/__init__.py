"""The local DeepAR engine (GluonTS, torch): imported only by commands that train or predict locally."""
