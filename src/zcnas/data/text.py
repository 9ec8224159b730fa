"""Language-modelling text: the vocabulary, batchified token streams and one seeded (batch, bptt) window.

Reading follows the benchmark's (AWD-LSTM's) corpus: each line is ``line.split() + ["<eos>"]``; word ids are given
in order of first appearance over train, valid and test, so PTB has exactly 10,000 words and WikiText-2 33,278.
``batchify`` cuts a split's stream into ``batch_size`` contiguous rows (the benchmark's layout, batch first here),
dropping the tail that does not fill a column. ``text_window`` draws one training step: with
``numpy.random.default_rng(seed)`` a start column ``s`` uniform over the stream, inputs ``rows[:, s:s+bptt]`` and
next-token targets ``rows[:, s+1:s+1+bptt]``. Defaults follow the benchmark: batch 20, bptt 70.

Example:
    >>> x, y = text_window("ptb", batch_size=2, seed=0, bptt=5)  # doctest: +SKIP
    >>> tuple(x.shape), bool((x[:, 1:] == y[:, :-1]).all())      # doctest: +SKIP
    ((2, 5), True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from zcnas.data.paths import data_file

__all__ = [
    "DEFAULT_BPTT",
    "DEFAULT_TEXT_BATCH",
    "TEXT_FILES",
    "TEXT_SOURCES",
    "Corpus",
    "batchify",
    "load_corpus",
    "text_window",
]

#: The text files of each source, relative to the data folder.
TEXT_FILES: dict[str, dict[str, str]] = {
    "ptb": {s: f"text/ptb/ptb.{s}.txt" for s in ("train", "valid", "test")},
    "wikitext2": {s: f"text/wikitext-2/wiki.{s}.tokens" for s in ("train", "valid", "test")},
}
#: The text sources with their vocabulary sizes.
TEXT_SOURCES: dict[str, int] = {"ptb": 10000, "wikitext2": 33278}
#: The benchmark's batch size and back-propagation-through-time length.
DEFAULT_TEXT_BATCH = 20
DEFAULT_BPTT = 70
_NAMES = {"ptb": "Penn Treebank", "wikitext2": "WikiText-2"}


@dataclass(frozen=True)
class Corpus:
    """A tokenised corpus: ``words[i]`` is the word of id i; ``splits[name]`` the read-only int64 id stream."""

    words: tuple[str, ...]
    splits: dict[str, np.ndarray]

    @property
    def vocab_size(self) -> int:
        return len(self.words)


def _check_source(source: str) -> None:
    if source not in TEXT_SOURCES:
        raise ValueError(f"text source {source!r} is unknown; allowed: {', '.join(TEXT_SOURCES)}")


@functools.lru_cache(maxsize=2)
def load_corpus(source: str) -> Corpus:
    """The vocabulary and id streams of ``source`` ("ptb" or "wikitext2"), read once per process.

    Example:
        >>> load_corpus("ptb").vocab_size  # doctest: +SKIP
        10000
    """
    _check_source(source)
    ids: dict[str, int] = {}
    splits = {}
    for split, relative in TEXT_FILES[source].items():
        path = data_file(relative, f"the {_NAMES[source]} {split} text")
        stream: list[int] = []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                for word in line.split() + ["<eos>"]:
                    stream.append(ids.setdefault(word, len(ids)))
        array = np.asarray(stream, dtype=np.int64)
        array.setflags(write=False)
        splits[split] = array
    if len(ids) != TEXT_SOURCES[source]:
        raise ValueError(f"the {_NAMES[source]} files give {len(ids)} words, not {TEXT_SOURCES[source]}; "
                         "check that the text files are the standard ones")
    return Corpus(tuple(ids), splits)


def batchify(tokens: np.ndarray, batch_size: int) -> np.ndarray:
    """``tokens`` cut into ``batch_size`` contiguous rows of equal length (the tail that does not fit dropped).

    Example:
        >>> batchify(np.arange(7), 2)
        array([[0, 1, 2],
               [3, 4, 5]])
    """
    batch_size = _positive("batch_size", batch_size)
    columns = len(tokens) // batch_size
    if columns == 0:
        raise ValueError(f"a stream of {len(tokens)} tokens cannot fill batch_size={batch_size} rows")
    return np.asarray(tokens[: columns * batch_size]).reshape(batch_size, columns)


@functools.lru_cache(maxsize=8)
def _rows(source: str, split: str, batch_size: int) -> np.ndarray:
    rows = batchify(load_corpus(source).splits[split], batch_size)
    rows.setflags(write=False)
    return rows


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def text_window(
    source: str,
    batch_size: int = DEFAULT_TEXT_BATCH,
    seed: int = 0,
    *,
    split: str = "train",
    bptt: int = DEFAULT_BPTT,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One seeded window of a batchified split: ``(inputs, targets)``, int64 of shape (batch_size, bptt).

    Args:
        source: "ptb" or "wikitext2".
        batch_size: rows of the batchified stream (benchmark: 20).
        seed: non-negative; chooses the start column with ``numpy.random.default_rng(seed)``.
        split: "train", "valid" or "test".
        bptt: tokens per row (benchmark: 70).

    Returns:
        Token ids and their next tokens (``targets[:, t] == inputs[:, t + 1]`` within the window).
    """
    _check_source(source)
    if split not in TEXT_FILES[source]:
        raise ValueError(f"split {split!r} is not allowed for text; use 'train', 'valid' or 'test'.")
    batch_size, bptt = _positive("batch_size", batch_size), _positive("bptt", bptt)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    rows = _rows(source, split, batch_size)
    if rows.shape[1] < bptt + 1:
        raise ValueError(f"the {split} split of {source!r} in {batch_size} rows has {rows.shape[1]} tokens per row, "
                         f"fewer than bptt + 1 = {bptt + 1}")
    start = int(np.random.default_rng(int(seed)).integers(0, rows.shape[1] - bptt))
    inputs = torch.from_numpy(np.ascontiguousarray(rows[:, start:start + bptt]))
    targets = torch.from_numpy(np.ascontiguousarray(rows[:, start + 1:start + 1 + bptt]))
    return inputs, targets
