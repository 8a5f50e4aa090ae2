"""The spam text model shipped inside the package (trained by scripts/train_spam_model.py)."""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources

from domain.spam_text import TextModel

MODEL_NAME = "spam_text_model.json.gz"


def load_model(blob: bytes) -> TextModel:
    """A model from the gzipped JSON the training script writes."""
    return TextModel.from_dict(json.loads(gzip.decompress(blob)))


@lru_cache(maxsize=1)
def shipped_model() -> TextModel:
    """The shipped model (data: CC BY 4.0 and CC0, see dcs/data/*.LICENSE), read once."""
    return load_model(resources.files("dcs").joinpath("data", MODEL_NAME).read_bytes())
