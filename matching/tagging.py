"""Tags from records: item keywords, declared attributes, system tags (lifecycle, RFM), and
the weighting helpers the tag space is built with (DESIGN.md, "The tag space"; its row
kernels are in matching.csr_rows).

One token stream per item: jieba segments Chinese runs, a plain regex tokenises the rest
(lowercased, NFKC so full-width Latin reads as ASCII). Title tokens count TITLE_REPEAT times.
`extract_keywords` ranks one item's tokens with jieba's general-purpose IDF, so it works at
ingest time without a catalogue; `build_item_tags` re-weights them by TF-IDF over the
catalogue itself, which knows what is common *here*.
"""

from __future__ import annotations

import functools
import heapq
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.config import LifecycleConfig, TagConfig
from matching.csr_rows import l2_normalize_rows, top_k_per_row
from matching.data import SECONDS_PER_DAY, EventLog, ItemRecord
from matching.vocabulary import Vocabulary

NS_AGE, NS_GENDER, NS_INCOME, NS_REGION = "age", "gender", "income", "region"
NS_OCCUPATION, NS_EDU, NS_ATTR, NS_KEYWORD = "occupation", "edu", "attr", "kw"
NS_CATEGORY, NS_LIFE, NS_RFM = "cat", "life", "rfm"

AGE_BANDS: tuple[str, ...] = ("under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_BAND_LOWER = (0, 18, 25, 35, 45, 55, 65)
INCOME_BANDS: tuple[str, ...] = ("<5k", "5k-10k", "10k-20k", "20k+")
_INCOME_BAND_LOWER = (0, 5_000, 10_000, 20_000)
GENDERS: tuple[str, ...] = ("f", "m", "other")
LIFECYCLE_STAGES: tuple[str, ...] = ("new", "active", "silent", "churned")

TITLE_REPEAT = 3
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"['’]s\b")
# jieba ships no Chinese stop list; its IDF already discounts most function words, these
# frequent ones still slip into short texts.
_CHINESE_STOP_WORDS = (
    frozenset(("我们", "你们", "他们", "她们", "一个", "这个", "那个", "这些", "那些", "什么"))
    | frozenset(("怎么", "可以", "没有", "就是", "还是", "因为", "所以", "但是", "如果", "已经"))
    | frozenset(("自己", "这样", "那样", "非常", "以及", "或者", "而且", "然后", "一些", "一起"))
    | frozenset(("之后", "之前", "时候"))
)


@functools.cache
def _stop_words() -> frozenset[str]:
    # scikit-learn's list; imported on first use because sklearn costs a second to import
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _CHINESE_STOP_WORDS


@functools.cache
def _jieba() -> tuple[Callable[[str], list[str]], Mapping[str, float], float]:
    """jieba's segmenter and IDF table, loaded on first use (a second or so, quietly)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    import jieba.analyse

    tfidf = jieba.analyse.default_tfidf
    return jieba.lcut, tfidf.idf_freq, tfidf.median_idf


def load_keyword_extractor() -> None:
    """Load jieba's dictionary and IDF table now rather than on the first Chinese title: the
    API calls it at start-up, so no item write pays the seconds it takes."""
    _jieba()[0]("加载词典")
    _stop_words()


def _keep(token: str) -> bool:
    return len(token) >= 2 and not token.isdigit() and token not in _stop_words()


@functools.lru_cache(maxsize=1 << 15)
def _chinese_run_tokens(run: str) -> tuple[str, ...]:
    """jieba's kept words of one Chinese run. Cached: jieba is most of the cost of item tags,
    and a catalogue's texts repeat the same runs (phrases between punctuation) many times,
    as does every tag-space build of one training run. The cut of a run does not depend on
    its context, so the cache changes no output. Bounded: ~0.5 kB an entry, ~16 MB when full."""
    return tuple(t for t in _jieba()[0](run) if _keep(t))


def tokenize(text: str) -> list[str]:
    """Keyword candidates of a text: jieba words for Chinese runs, regex words otherwise."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    runs = _CJK_RUN.findall(text)
    if runs:
        for run in runs:
            tokens.extend(_chinese_run_tokens(run))
        text = _CJK_RUN.sub(" ", text)
    tokens.extend(t for t in _WORD.findall(_POSSESSIVE.sub("", text)) if _keep(t))
    return tokens


def keyword_counts(title: str, text: str) -> Counter[str]:
    """Token counts of an item, title tokens counted TITLE_REPEAT times."""
    counts = Counter(tokenize(text))
    for token in tokenize(title):
        counts[token] += TITLE_REPEAT
    return counts


def extract_keywords(title: str, text: str, top_k: int = 8) -> list[tuple[str, float]]:
    """One item's top keywords with weights in (0, 1], the best one 1.0.

    jieba's TF-IDF (tf / total x IDF from its corpus, median IDF for unknown words) over the
    mixed token stream; Latin words take the median IDF, so in pure Latin text this is tf.
    """
    counts = keyword_counts(title, text)
    if not counts or top_k <= 0:
        return []
    has_chinese = any(_CJK_RUN.match(token) for token in counts)
    idf, median = (_jieba()[1], _jieba()[2]) if has_chinese else ({}, 1.0)
    scored = {word: count * idf.get(word, median) for word, count in counts.items()}
    best = heapq.nsmallest(top_k, scored.items(), key=lambda kv: (-kv[1], kv[0]))
    top = best[0][1]
    return [(word, round(score / top, 4)) for word, score in best]


def catalogue_idf(document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
    """Smoothed IDF, ln((1 + n) / (1 + df)) + 1: a word in every document still counts 1."""
    return (np.log((1.0 + n_documents) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


def sublinear_tf_idf(counts: np.ndarray, idf: np.ndarray) -> np.ndarray:
    return ((1.0 + np.log(counts)) * idf).astype(np.float32)


@dataclass(slots=True)
class ItemTags:
    matrix: sp.csr_matrix  # items x len(tag vocab after the build), rows L2-normalised
    keyword_idf: np.ndarray  # float32 per tag column; 0 for columns that are not keywords


def declared_item_tags(tags: Mapping[str, float], category: str | None) -> dict[str, float]:
    out = {t.strip(): float(w) for t, w in tags.items() if t and t.strip() and w}
    if category and category.strip():
        out.setdefault(f"{NS_CATEGORY}:{category.strip()}", 1.0)
    return out


def build_item_tags(
    items: Sequence[ItemRecord], tag_vocab: Vocabulary, config: TagConfig
) -> ItemTags:
    """Declared tags + `kw:` keywords (catalogue TF-IDF, sublinear tf, top keywords_per_item).

    Each part is L2-normalised, keywords scaled by keyword_weight, the sum L2-normalised.
    Extends tag_vocab with new declared tags and the kept keywords only.
    """
    n_items = len(items)
    word_index: dict[str, int] = {}
    kw_rows: list[int] = []
    kw_cols: list[int] = []
    kw_counts: list[int] = []
    dec_rows: list[int] = []
    dec_cols: list[int] = []
    dec_vals: list[float] = []
    for row, item in enumerate(items):
        for tag, weight in declared_item_tags(item.tags, item.category).items():
            dec_rows.append(row)
            dec_cols.append(tag_vocab.add(tag))
            dec_vals.append(weight)
        for word, count in keyword_counts(item.title, item.text).items():
            kw_rows.append(row)
            kw_cols.append(word_index.setdefault(word, len(word_index)))
            kw_counts.append(count)

    words = list(word_index)
    counts = sp.csr_matrix(
        (np.asarray(kw_counts, np.float32), (kw_rows, kw_cols)), shape=(n_items, len(words))
    )
    word_idf = catalogue_idf(np.bincount(counts.indices, minlength=len(words)), n_items)
    counts.data = sublinear_tf_idf(counts.data, word_idf[counts.indices])
    keywords = top_k_per_row(counts, config.keywords_per_item)

    kept = np.unique(keywords.indices)
    kept_cols = np.array([tag_vocab.add(f"{NS_KEYWORD}:{words[w]}") for w in kept], np.int64)
    word_to_col = np.full(len(words), -1, np.int64)
    word_to_col[kept] = kept_cols
    n_tags = len(tag_vocab)
    kw_part = sp.csr_matrix(
        (keywords.data, word_to_col[keywords.indices], keywords.indptr), shape=(n_items, n_tags)
    )
    declared = sp.csr_matrix(
        (np.asarray(dec_vals, np.float32), (dec_rows, dec_cols)), shape=(n_items, n_tags)
    )
    matrix = l2_normalize_rows(
        l2_normalize_rows(declared) + config.keyword_weight * l2_normalize_rows(kw_part)
    )
    matrix.eliminate_zeros()

    keyword_idf = np.zeros(n_tags, np.float32)
    unseen = catalogue_idf(np.zeros(1), n_items)[0]
    prefix = f"{NS_KEYWORD}:"
    for col, tag in enumerate(tag_vocab.ids):
        if tag.startswith(prefix):
            w = word_index.get(tag[len(prefix) :])
            keyword_idf[col] = unseen if w is None else word_idf[w]
    return ItemTags(matrix=matrix, keyword_idf=keyword_idf)


def _clean(value: object) -> str:
    return " ".join(str(value).split()).lower()


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        # float() of an int beyond float range raises OverflowError: such a value says nothing.
        number = float(value) if isinstance(value, int | float) else _parse_number(str(value))
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _parse_number(text: str) -> float:
    text = text.strip().replace(",", "")
    if len(text) > 64:  # no band needs more digits; float() of huge digit strings is slow
        raise ValueError("not a plausible number")
    return float(text)


def age_band(age: float) -> str | None:
    if not 0 <= age < 130:
        return None
    return AGE_BANDS[int(np.searchsorted(_AGE_BAND_LOWER, age, side="right")) - 1]


def income_band(monthly: float) -> str | None:
    if monthly < 0:
        return None
    return INCOME_BANDS[int(np.searchsorted(_INCOME_BAND_LOWER, monthly, side="right")) - 1]


_FEMALE = frozenset({"f", "female", "woman", "w", "女", "女性"})
_MALE = frozenset({"m", "male", "man", "男", "男性"})
_US_ZIP = re.compile(r"^(\d)\d{4}(?:-\d{4})?$")
_PASS_THROUGH = {
    "region": NS_REGION,
    "city": NS_REGION,
    "province": NS_REGION,
    "occupation": NS_OCCUPATION,
    "job": NS_OCCUPATION,
    "education": NS_EDU,
    "edu": NS_EDU,
}


@functools.lru_cache(maxsize=65_536, typed=True)
def attribute_tag(key: str, value: str | int | float | bool) -> str | None:
    """The tag of one declared attribute, or None when the value says nothing."""
    key = key.strip().lower()
    text = _clean(value)
    if not text:
        return None
    if key in ("age", "age_band"):
        number = _number(value)
        if number is not None:
            band = age_band(number)
            return None if band is None else f"{NS_AGE}:{band}"
        return f"{NS_AGE}:{text}" if key == "age_band" else None
    if key in ("gender", "sex"):
        gender = "f" if text in _FEMALE else "m" if text in _MALE else "other"
        return f"{NS_GENDER}:{gender}"
    if key in ("income", "income_band"):
        number = _number(value)
        if number is None:
            return f"{NS_INCOME}:{text}"
        band = income_band(number)
        return None if band is None else f"{NS_INCOME}:{band}"
    if key in ("zip", "zipcode", "zip_code", "postal_code"):
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
            text = f"{value:05d}"
        match = _US_ZIP.match(text)
        return f"{NS_REGION}:us-{match.group(1)}" if match else None
    if key in _PASS_THROUGH:
        return f"{_PASS_THROUGH[key]}:{text}"
    return f"{NS_ATTR}:{key}={text}"


_SCALARS = (str, int, float, bool)  # None is none of them


def attribute_tags(attributes: Mapping[str, object]) -> dict[str, float]:
    """Declared attributes as namespaced tags, each weighing 1.0; None/empty values skipped."""
    out: dict[str, float] = {}
    for key, value in attributes.items():
        # a tuple, not a union: this runs for every attribute of every user in a tag-space build
        if isinstance(value, _SCALARS):
            tag = attribute_tag(key, value)
            if tag is not None:
                out[tag] = 1.0
    return out


def system_tag_names(rfm_bands: int) -> list[str]:
    """Every lifecycle and RFM tag, registered up front so their columns never move."""
    names = [f"{NS_LIFE}:{stage}" for stage in LIFECYCLE_STAGES]
    for letter in "rfm":
        names.extend(f"{NS_RFM}:{letter}{band}" for band in range(1, rfm_bands + 1))
    return names


def user_activity(
    events: EventLog, n_users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per user: first ts, last ts (+/-inf without events), event count, value sum, has value."""
    first = np.full(n_users, np.inf)
    last = np.full(n_users, -np.inf)
    np.minimum.at(first, events.user, events.ts)
    np.maximum.at(last, events.user, events.ts)
    count = np.bincount(events.user, minlength=n_users)
    valued = events.value != 0
    monetary = np.bincount(
        events.user[valued], weights=events.value[valued].astype(np.float64), minlength=n_users
    )
    has_value = np.bincount(events.user[valued], minlength=n_users) > 0
    return first, last, count, monetary, has_value


def lifecycle_stages(
    first: np.ndarray, last: np.ndarray, count: np.ndarray, now: float, config: LifecycleConfig
) -> np.ndarray:
    """new (no events, or first within new_days), churned / silent (last event older than
    churned_days / silent_days), else active; "within" includes the threshold itself."""
    has = count > 0
    since_first = np.where(has, (now - first) / SECONDS_PER_DAY, 0.0)
    since_last = np.where(has, (now - last) / SECONDS_PER_DAY, 0.0)
    stage = np.select(
        [~has, since_first <= config.new_days, since_last > config.churned_days],
        [0, 0, 3],
        default=np.where(since_last > config.silent_days, 2, 1),
    )
    return stage.astype(np.int8)


def quantile_bands(values: np.ndarray, mask: np.ndarray, n_bands: int) -> np.ndarray:
    """Bands 1..n_bands by rank among `mask` users (ties share the band of their mean
    rank), 0 elsewhere."""
    out = np.zeros(len(values), np.int8)
    n = int(mask.sum())
    if n:
        from scipy.stats import rankdata  # scipy.stats is slow to import; only training needs it

        ranks = rankdata(values[mask], method="average")
        out[mask] = (np.floor((ranks - 0.5) * n_bands / n) + 1).clip(1, n_bands)
    return out


def rfm_bands(
    last: np.ndarray, count: np.ndarray, monetary: np.ndarray, has_value: np.ndarray, n: int
) -> np.ndarray:
    has = count > 0
    return np.column_stack(
        [
            quantile_bands(last, has, n),  # a later last event is a higher recency band
            quantile_bands(count.astype(np.float64), has, n),
            quantile_bands(monetary, has_value, n),
        ]
    ).astype(np.int8)


def system_matrix(lifecycle: np.ndarray, rfm: np.ndarray, vocab: Vocabulary) -> sp.csr_matrix:
    n_users = len(lifecycle)
    life_cols = vocab.indices(f"{NS_LIFE}:{stage}" for stage in LIFECYCLE_STAGES)
    rows = [np.arange(n_users)]
    cols = [life_cols[lifecycle]]
    for j, letter in enumerate("rfm"):
        band = rfm[:, j].astype(np.int64)
        has = band > 0
        top = int(band.max(initial=0))
        # position 0 stands for "no band", which `has` filters out
        band_cols = vocab.indices([""] + [f"{NS_RFM}:{letter}{b}" for b in range(1, top + 1)])
        rows.append(np.flatnonzero(has))
        cols.append(band_cols[band[has]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_users, len(vocab)))
