"""Training a vision model for ``darla see``: the loop every model shares, with checkpoints and
exact resume (:mod:`~darla.vision.training.trainer`); the batches it draws
(:mod:`~darla.vision.training.batches`); what the training data decides for a model
(:mod:`~darla.vision.training.inputs`); and SCAN's evaluation outputs
(:mod:`~darla.vision.training.scan_eval`)."""
