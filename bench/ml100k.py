"""Where the benchmarks and the tests look for MovieLens 100K in a development checkout.

$TAGMATCH_ML100K wins; otherwise the team's shared copy beside the checkout. Only bench/ and
tests/ use this default: the package itself finds the data set only where it is told.
The data set carries a research licence and is never copied into this repository.
"""

from __future__ import annotations

from pathlib import Path

from matching.datasets import movielens_path

DEVELOPMENT_ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def ml100k_path() -> Path | None:
    """The ml-100k directory ($TAGMATCH_ML100K, else DEVELOPMENT_ML100K), None when absent."""
    return movielens_path(DEVELOPMENT_ML100K)
