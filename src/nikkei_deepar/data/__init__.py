"""Pure functions, no network: price files, the series, DeepAR JSON Lines, inference payloads, metrics."""
