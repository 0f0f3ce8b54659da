"""What several commands share about the life of a job or an endpoint: polling, following a training job,
storing the prepared data. Steps import these; a step module never imports another step (retrain, which
composes them, aside).
"""
