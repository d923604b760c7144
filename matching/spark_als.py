"""The ALS step on Apache Spark MLlib (implicitPrefs=True), for interaction data past one machine.

Same contract as matching.als.fit_als: a user x item confidence matrix and an ALSConfig in,
(user_factors, item_factors) float32 out, rows without any entry left at exactly zero. The rest
of the pipeline (tag space, hybrid vectors, indexes, evaluation, gate, artifact) does not know
which backend fitted the factors.

The exchange with Spark is Parquet in `ALSConfig.spark_work_dir`: the confidence triples go out
(user row, item row, weight), Spark fits, and Spark writes its factor tables back there, which
are read straight into numpy. Neither side ever collects millions of rows through the driver's
Python objects, and on a cluster the same directory (a shared filesystem path) is all the
executors need.

Two differences of convention are translated here, so that one ALSConfig means the same model:
* confidence: implicit is handed 1 + alpha * weight (matching.als); Spark computes
  1 + alpha * rating itself, so it gets the raw weight and `alpha`.
* regularisation: Spark always scales its regParam by each row's number of ratings (ALS-WR);
  implicit uses one constant. regParam = regularization / (mean entries per active user)
  regularises the average user as strongly as implicit does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession

from matching.config import ALSConfig

_TRIPLES = "confidence.parquet"
_USER_FACTORS = "user_factors.parquet"
_ITEM_FACTORS = "item_factors.parquet"
_ROW_GROUP = 1 << 20  # triples per Parquet row group: bounded memory on both sides


def spark_reg_param(confidence: sp.csr_matrix, regularization: float) -> float:
    """Spark's regParam giving the average active user implicit's constant regularisation."""
    active_users = int(np.count_nonzero(np.diff(confidence.indptr)))
    if active_users == 0:
        return regularization
    return regularization / (confidence.nnz / active_users)


@contextmanager
def spark_session(master: str) -> Iterator[SparkSession]:
    """The active SparkSession if there is one (a notebook's, a test session's), else a new one
    on `master`, stopped afterwards so a serving process never keeps an idle JVM."""
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = (
        SparkSession.builder.master(master)
        .appName("tagmatch-als")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


def write_triples(confidence: sp.csr_matrix, path: Path) -> None:
    """The matrix's entries as Parquet (user int32, item int32, weight float32), by row groups."""
    coo = confidence.tocoo()
    table = pa.table(
        {
            "user": pa.array(coo.row.astype(np.int32, copy=False)),
            "item": pa.array(coo.col.astype(np.int32, copy=False)),
            "weight": pa.array(coo.data.astype(np.float32, copy=False)),
        }
    )
    pq.write_table(table, path, row_group_size=_ROW_GROUP)


def read_factors(path: Path, n_rows: int, rank: int) -> np.ndarray:
    """A Spark factor table (id, features) as a dense (n_rows, rank) float32 array; rows
    Spark never saw stay zero."""
    factors = np.zeros((n_rows, rank), np.float32)
    table = pq.read_table(path, columns=["id", "features"])
    if table.num_rows == 0:
        return factors
    ids = table.column("id").combine_chunks().to_numpy().astype(np.int64)
    values = table.column("features").combine_chunks().flatten().to_numpy()
    factors[ids] = values.astype(np.float32, copy=False).reshape(len(ids), rank)
    return factors


def fit_als_spark(confidence: sp.csr_matrix, config: ALSConfig) -> tuple[np.ndarray, np.ndarray]:
    """(user_factors, item_factors), float32, fitted with Spark MLlib's implicit ALS."""
    n_users, n_items = confidence.shape
    if confidence.nnz == 0:
        return np.zeros((n_users, config.factors), np.float32), np.zeros(
            (n_items, config.factors), np.float32
        )
    with (
        tempfile.TemporaryDirectory(prefix="tagmatch-spark-", dir=config.spark_work_dir) as work,
        spark_session(config.spark_master) as spark,
    ):
        directory = Path(work)
        # Without checkpoints each ALS sweep lengthens the RDD lineage, and a few dozen sweeps
        # overflow the JVM's stack (StackOverflowError) when the plan is serialised.
        spark.sparkContext.setCheckpointDir(str(directory / "checkpoints"))
        write_triples(confidence, directory / _TRIPLES)
        triples = spark.read.parquet(str(directory / _TRIPLES))
        als = ALS(
            rank=config.factors,
            maxIter=config.iterations,
            checkpointInterval=5,
            regParam=spark_reg_param(confidence, config.regularization),
            implicitPrefs=True,
            alpha=config.alpha,
            seed=config.random_state,
            userCol="user",
            itemCol="item",
            ratingCol="weight",
            numUserBlocks=config.spark_blocks,
            numItemBlocks=config.spark_blocks,
        )
        model = als.fit(triples)
        model.userFactors.write.parquet(str(directory / _USER_FACTORS))
        model.itemFactors.write.parquet(str(directory / _ITEM_FACTORS))
        user_factors = read_factors(directory / _USER_FACTORS, n_users, config.factors)
        item_factors = read_factors(directory / _ITEM_FACTORS, n_items, config.factors)
    # As in fit_als: a row without entries is cold, exactly zero (Spark never emits it anyway).
    user_factors[np.diff(confidence.indptr) == 0] = 0.0
    item_factors[np.bincount(confidence.indices, minlength=n_items) == 0] = 0.0
    return user_factors, item_factors
