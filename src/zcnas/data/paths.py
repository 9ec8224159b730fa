"""Where the shared data lives: ``ZCNAS_DATA`` or ``../shared/data`` next to the checkout.

The data is never copied into the repository; these helpers find it and, when it is missing, say in one
sentence where they looked and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "data_dir", "data_file"]

#: Environment variable that points at the data folder (the one holding ``cifar10/``, ``nb201/``, ...).
ENV_VAR = "ZCNAS_DATA"


def _repo_root() -> Path:
    # src/zcnas/data/paths.py -> parents[3] is the checkout.
    return Path(__file__).resolve().parents[3]


def _candidate_dirs() -> list[Path]:
    """The data folders to try, in order of preference."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    candidates = [Path.cwd() / ".." / "shared" / "data", _repo_root() / ".." / "shared" / "data"]
    unique: list[Path] = []
    for cand in candidates:
        resolved = cand.resolve()
        if resolved not in unique:
            unique.append(resolved)
    return unique


def data_dir() -> Path:
    """Return the data folder.

    ``$ZCNAS_DATA`` when set; otherwise the first existing of ``<cwd>/../shared/data`` and
    ``<checkout>/../shared/data``.

    Returns:
        The folder (for ``ZCNAS_DATA`` it is returned as given, even if it does not exist yet).

    Raises:
        FileNotFoundError: ``ZCNAS_DATA`` is unset and no candidate folder exists.

    Example:
        >>> from zcnas.data import data_dir
        >>> (data_dir() / "nb201").is_dir()  # doctest: +SKIP
        True
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    candidates = _candidate_dirs()
    for cand in candidates:
        if cand.is_dir():
            return cand
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"No zcnas data folder found (looked in {looked}); set the environment variable {ENV_VAR} "
        f"to the folder that holds the shared data (cifar10/, nb201/, ...)."
    )


def data_file(relative: str, what: str) -> Path:
    """Return the path of a data file, or raise one clear sentence naming every place looked.

    Args:
        relative: Path inside the data folder, e.g. ``"nb201/nb201_accuracies.csv"``.
        what: What the file is, for the error message, e.g. ``"the NAS-Bench-201 accuracy table"``.

    Returns:
        The existing file's path.

    Raises:
        FileNotFoundError: The file exists in none of the candidate folders.

    Example:
        >>> from zcnas.data import data_file
        >>> data_file("nb201/nb201_accuracies.csv", "the NB201 table").name  # doctest: +SKIP
        'nb201_accuracies.csv'
    """
    candidates = [cand / relative for cand in _candidate_dirs()]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    env = os.environ.get(ENV_VAR)
    how = (
        f"{ENV_VAR} is set to {env}, so put the file there or point {ENV_VAR} at the folder that holds {relative}"
        if env
        else f"get the shared data folder and put it at one of these places, or set {ENV_VAR} to the folder "
        f"that holds {relative}"
    )
    raise FileNotFoundError(f"Could not find {what} ({relative}): looked at {looked}; {how}.")
