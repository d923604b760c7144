"""The Spark MLlib ALS backend, in Spark local mode on planted clusters.

Java is installed by `make setup`; without it (or without pyspark) these tests skip locally and
fail under CI=true. One SparkSession serves the whole test session: the backend uses the active
session instead of starting its own JVM per fit.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from matching.als import confidence_matrix, fit_als
from matching.artifact import load_model, save_model
from matching.config import (
    ALSConfig,
    EvalConfig,
    EventConfig,
    HybridConfig,
    ModelConfig,
    SearchConfig,
)
from matching.datasets import load_movielens_100k, movielens_path
from matching.pipeline import gate, train
from matching.spark_als import fit_als_spark, read_factors, spark_reg_param

SPARK_ALS = ALSConfig(factors=16, iterations=6, backend="spark", spark_blocks=1)
SPARK_CONFIG = ModelConfig(
    als=SPARK_ALS,
    hybrid=HybridConfig(tag_dim=8),
    eval=EvalConfig(holdout_days=5),
    search=SearchConfig(trials=0),  # each trial is a Spark fit: the search is tested elsewhere
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Spark backend cannot be tested under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark_local() -> Iterator[Any]:
    if shutil.which("java") is None:
        _unavailable("no Java on PATH (make setup installs openjdk-17-jre-headless)")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        _unavailable(f"pyspark is not installed ({exc}); it is in the dev extra")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("tagmatch-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_factor_tables_land_on_their_rows_and_unseen_rows_stay_zero(tmp_path: Path):
    path = tmp_path / "factors.parquet"
    table = pa.table(
        {
            "id": pa.array([3, 0], pa.int32()),
            "features": pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, path)
    factors = read_factors(path, 5, 2)
    assert factors.dtype == np.float32
    np.testing.assert_array_equal(factors, [[3, 4], [0, 0], [0, 0], [1, 2], [0, 0]])


def test_reg_param_regularises_the_average_user_like_implicit():
    matrix = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], np.float32))
    assert spark_reg_param(matrix, 30.0) == pytest.approx(30.0 / 3)  # 6 entries / 2 active users


def test_spark_factors_find_the_planted_clusters_like_implicit(spark_local, engine_planted):
    snapshot = engine_planted.snapshot
    confidence = confidence_matrix(
        snapshot.events, snapshot.n_users, snapshot.n_items, EventConfig(), snapshot.now
    )
    users, items = fit_als_spark(confidence, SPARK_ALS)
    assert users.shape == (snapshot.n_users, 16) and users.dtype == np.float32
    assert items.shape == (snapshot.n_items, 16) and items.dtype == np.float32
    reference_users, reference_items = fit_als(confidence, SPARK_ALS)
    cold_users, cold_items = engine_planted.cold_users, engine_planted.cold_items
    assert not users[cold_users].any() and not items[cold_items].any()
    warm = np.setdiff1d(np.arange(snapshot.n_users), cold_users)
    warm_items = np.setdiff1d(np.arange(snapshot.n_items), cold_items)

    def in_cluster_share(u: np.ndarray, i: np.ndarray) -> float:
        scores = u[warm] @ i[warm_items].T
        top = warm_items[np.argsort(-scores, axis=1)[:, :5]]
        return float(
            np.mean(engine_planted.item_cluster[top] == engine_planted.user_cluster[warm][:, None])
        )

    spark_share = in_cluster_share(users, items)
    assert spark_share >= 0.8
    assert spark_share >= in_cluster_share(reference_users, reference_items) - 0.1


def test_train_with_the_spark_backend_evaluates_gates_and_saves_the_same_artifact(
    spark_local, engine_planted, tmp_path: Path
):
    model = train(engine_planted.snapshot, SPARK_CONFIG, version="spark-v1")
    metrics = model.metrics
    assert metrics["evaluated"] and metrics["ndcg@10"] > 0.2 and metrics["cold_auc"] > 0.7
    assert gate(metrics, SPARK_CONFIG.eval.tolerance)[0]  # first model: beats most-popular
    save_model(model, tmp_path / "spark-v1")
    loaded = load_model(tmp_path / "spark-v1")
    assert loaded.config.als.backend == "spark" and loaded.digest == SPARK_CONFIG.digest()
    warm = np.setdiff1d(np.arange(len(engine_planted.user_cluster)), engine_planted.cold_users)
    row = int(warm[0])
    result = loaded.recommend(f"u{row}", 5)
    assert result.strategy == "personal" and len(result.items) == 5
    clusters = engine_planted.item_cluster[loaded.item_rows([s.id for s in result.items])]
    assert np.mean(clusters == engine_planted.user_cluster[row]) >= 0.6


def _parity_bench() -> Any:
    path = Path(__file__).resolve().parents[2] / "bench" / "spark_parity.py"
    spec = importlib.util.spec_from_file_location("spark_parity", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# $TAGMATCH_ML100K, else the development copy beside the checkout (bench/ml100k.py's default).
ML100K = movielens_path(Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k")


@pytest.mark.skipif(ML100K is None, reason="MovieLens 100K not available")
def test_spark_ndcg_is_within_five_percent_of_implicit_on_ml100k(spark_local):
    """bench/spark_parity.py's check on one seed, ALS alone (the part the backend changes)."""
    path = ML100K
    assert path is not None
    bench = _parity_bench()
    snapshot = load_movielens_100k(path).to_snapshot()
    results = bench.compare(snapshot, [0], "local[2]", HybridConfig(tag_share=0.0))
    (ratio,) = bench.parity_ratios(results)
    assert abs(ratio - 1.0) <= bench.TOLERANCE, results
