"""The pipeline's stages: each a readable function from a config and its inputs to a run folder."""
