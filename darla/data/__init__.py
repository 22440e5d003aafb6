"""Observation datasets for the vision stage: collected by a random agent, stored memory-mappable."""

from darla.data.collection import CollectionConfig, collect, collection_hash, load_or_collect
from darla.data.frames import FrameDataset, open_frames

__all__ = [
    "CollectionConfig",
    "FrameDataset",
    "collect",
    "collection_hash",
    "load_or_collect",
    "open_frames",
]
