"""User and item vectors in one tag space (DESIGN.md, "The tag space").

Contract shared by the engine, segments and the API: see TagSpace below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.vocabulary import Vocabulary

LIFECYCLE_STAGES: tuple[str, ...] = ("new", "active", "silent", "churned")
TAG_SOURCES: tuple[str, ...] = ("declared", "behavioural", "predicted", "system")


@dataclass(slots=True)
class TagSpace:
    """Every matrix is CSR float32 with columns indexed by `tags`.

    Rows of item_tags follow the snapshot's item vocabulary, rows of user_* its user
    vocabulary. user_predicted holds confidences; user_system holds 1.0 for the user's
    `life:<stage>` and `rfm:r<k>`/`rfm:f<k>`/`rfm:m<k>` tags.
    """

    tags: Vocabulary
    item_tags: sp.csr_matrix  # declared + extracted keywords, rows L2-normalised
    user_declared: sp.csr_matrix
    user_behavioural: sp.csr_matrix  # time-decayed interest, rows L2-normalised
    user_predicted: sp.csr_matrix  # confidence in [0, 1], only above the threshold
    user_system: sp.csr_matrix
    lifecycle: np.ndarray  # int8 index into LIFECYCLE_STAGES, per user
    rfm: np.ndarray  # int8 (n_users, 3): recency, frequency, monetary band; 0 = no data
