import numpy as np
import pytest
import scipy.sparse as sp

from matching.config import TagConfig
from matching.data import ItemRecord
from matching.tagging import (
    attribute_tags,
    build_item_tags,
    extract_keywords,
    l2_normalize_rows,
    tokenize,
    top_k_per_row,
)
from matching.vocabulary import Vocabulary


def test_chinese_keywords_find_the_topic_word():
    keywords = extract_keywords(
        "零基础瑜伽入门", "这是一篇关于瑜伽的文章，教你在家练习瑜伽，放松身心。我们一起来练习吧！"
    )
    words = [w for w, _ in keywords]
    assert words[0] == "瑜伽"
    assert keywords[0][1] == 1.0
    assert all(0 < weight <= 1.0 for _, weight in keywords)
    assert "我们" not in words  # stop word


def test_english_keywords_drop_stop_words_digits_and_case():
    keywords = dict(
        extract_keywords(
            "The Yoga Guide", "A guide to YOGA for beginners: the 10 best poses of 2024."
        )
    )
    assert "yoga" in keywords and "guide" in keywords
    for dropped in ("the", "to", "for", "of", "10", "2024", "a"):
        assert dropped not in keywords
    assert keywords["yoga"] == 1.0


def test_title_words_count_more_than_text_words():
    keywords = dict(extract_keywords("pilates", "running running"))
    assert keywords["pilates"] > keywords["running"]


def test_mixed_script_tokens_and_top_k():
    assert tokenize("Ｙｏｇａ瑜伽 class") == ["瑜伽", "yoga", "class"]  # full-width Latin folded
    assert len(extract_keywords("a b", "alpha beta gamma delta epsilon", top_k=2)) == 2
    assert extract_keywords("", "") == []


def _items() -> list[ItemRecord]:
    return [
        ItemRecord("i0", title="yoga", text="common rare", tags={"genre:Sport": 1.0}),
        ItemRecord("i1", title="", text="common", category="sports"),
        ItemRecord("i2", title="", text="common words here"),
        ItemRecord("i3", title="瑜伽 冥想", text="", tags={}),
    ]


def test_catalogue_tfidf_rare_word_outweighs_common_and_rows_are_unit():
    vocab = Vocabulary()
    result = build_item_tags(_items(), vocab, TagConfig(keyword_weight=1.0))
    m = result.matrix
    row0 = dict(zip(vocab.lookup(m[0].indices), m[0].data, strict=True))
    assert row0["kw:rare"] > row0["kw:common"] > 0
    assert row0["kw:yoga"] > row0["kw:rare"]  # title repeat, same document frequency
    assert "genre:Sport" in row0
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert "cat:sports" in vocab.lookup(m[1].indices)
    assert {"kw:瑜伽", "kw:冥想"} <= set(vocab.lookup(m[3].indices))
    # smoothed idf ln((1 + n) / (1 + df)) + 1: "common" is in 3 of 4 items, "rare" in 1
    assert result.keyword_idf[vocab.index("kw:common")] == pytest.approx(np.log(5 / 4) + 1)
    assert result.keyword_idf[vocab.index("kw:rare")] == pytest.approx(np.log(5 / 2) + 1)
    assert result.keyword_idf[vocab.index("genre:Sport")] == 0


def test_keyword_weight_and_keywords_per_item():
    vocab = Vocabulary()
    m = build_item_tags(_items(), vocab, TagConfig(keywords_per_item=1, keyword_weight=0.0)).matrix
    assert vocab.lookup(m[0].indices) == ["genre:Sport"]
    assert "kw:rare" not in vocab  # only a kept keyword becomes a tag
    vocab2 = Vocabulary()
    m2 = build_item_tags(_items(), vocab2, TagConfig(keywords_per_item=1)).matrix
    assert sum(t.startswith("kw:") for t in vocab2.lookup(m2[2].indices)) == 1


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "under-18"),
        (17, "under-18"),
        (18, "18-24"),
        (24, "18-24"),
        (24.9, "18-24"),
        (25, "25-34"),
        (34, "25-34"),
        (35, "35-44"),
        (64, "55-64"),
        (65, "65+"),
        ("30", "25-34"),
    ],
)
def test_age_band_edges(age, band):
    assert attribute_tags({"age": age}) == {f"age:{band}": 1.0}


@pytest.mark.parametrize(
    ("attributes", "tags"),
    [
        ({"age_band": "25-34"}, {"age:25-34"}),
        ({"age": -1}, set()),
        ({"age": True}, set()),
        ({"gender": "F"}, {"gender:f"}),
        ({"gender": "male"}, {"gender:m"}),
        ({"sex": "女"}, {"gender:f"}),
        ({"gender": "nonbinary"}, {"gender:other"}),
        ({"income": 4999}, {"income:<5k"}),
        ({"income": 5000}, {"income:5k-10k"}),
        ({"income": "12,000"}, {"income:10k-20k"}),
        ({"income": 20000}, {"income:20k+"}),
        ({"income": "High"}, {"income:high"}),
        ({"region": "上海"}, {"region:上海"}),
        ({"city": " New  York "}, {"region:new york"}),
        ({"occupation": "Engineer"}, {"occupation:engineer"}),
        ({"education": "Bachelor"}, {"edu:bachelor"}),
        ({"zip": "85711"}, {"region:us-8"}),
        ({"zip": "02138-1234"}, {"region:us-0"}),
        ({"zip": 2138}, {"region:us-0"}),
        ({"zip": "T8H1N"}, set()),
        ({"vip": True, "Favourite Color": "Blue"}, {"attr:vip=true", "attr:favourite color=blue"}),
        ({"gender": None, "region": "", "occupation": "  "}, set()),
    ],
)
def test_attribute_tags(attributes, tags):
    assert set(attribute_tags(attributes)) == tags


def test_l2_normalize_and_top_k_per_row():
    m = sp.csr_matrix(np.array([[3.0, 4.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 5.0, 0.0]]))
    n = l2_normalize_rows(m)
    np.testing.assert_allclose(n[0].toarray(), [[3 / 26**0.5, 4 / 26**0.5, 0, 1 / 26**0.5]], 1e-6)
    assert n[1].nnz == 0
    top = top_k_per_row(m, 2).toarray()
    np.testing.assert_array_equal(top, [[3, 4, 0, 0], [0, 0, 0, 0], [2, 0, 5, 0]])  # tie: col 0


@pytest.mark.parametrize("seed", range(5))
def test_top_k_per_row_matches_a_per_row_sort_with_long_and_short_rows(seed):
    rng = np.random.default_rng(seed)
    dense = np.round(rng.random((60, 40)) * 4) / 4  # many ties
    dense[rng.random((60, 40)) < rng.uniform(0.3, 0.95, (60, 1))] = 0.0  # rows of every length
    k = int(rng.integers(1, 12))
    expected = np.zeros_like(dense)
    for r, row in enumerate(dense):
        cols = np.flatnonzero(row)
        best = sorted(cols, key=lambda c: (-row[c], c))[:k]  # ties: lower column first
        expected[r, best] = row[best]
    top = top_k_per_row(sp.csr_matrix(dense), k)
    np.testing.assert_array_equal(top.toarray(), expected)
    assert np.all(np.diff(top.indptr) == np.minimum(np.count_nonzero(dense, axis=1), k))
