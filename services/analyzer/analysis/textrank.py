"""TextRank over sentences: a similarity graph ranked with (personalized) PageRank.

Edges are TF-IDF cosine similarities. They are computed through an inverted index, so only
pairs that share a term cost anything; the worst case is still quadratic in the number of
sentences, which is why callers cap the sentences per graph.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

DAMPING = 0.85
_MAX_ITERATIONS = 100
# Total change in scores (which sum to 1) below which the ranking has settled.
_TOLERANCE = 1e-6


def idf_weights(document_frequency: Mapping[str, int], n_units: int) -> dict[str, float]:
    """Smoothed inverse document frequency; every weight is > 0."""
    return {
        term: math.log((1 + n_units) / (1 + df)) + 1.0 for term, df in document_frequency.items()
    }


def _vectors(units: Sequence[Sequence[str]], idf: Mapping[str, float]) -> list[dict[str, float]]:
    vectors: list[dict[str, float]] = []
    for terms in units:
        counts = Counter(terms)
        vec = {t: c * idf.get(t, 1.0) for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in vec.values()))
        vectors.append({t: w / norm for t, w in vec.items()} if norm else {})
    return vectors


def similarity_graph(
    units: Sequence[Sequence[str]], idf: Mapping[str, float] | None = None
) -> list[dict[int, float]]:
    """Symmetric adjacency lists: ``graph[i][j]`` is the cosine similarity of units i and j."""
    if idf is None:
        df: Counter[str] = Counter()
        for terms in units:
            df.update(set(terms))
        idf = idf_weights(df, len(units))
    vectors = _vectors(units, idf)
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, vec in enumerate(vectors):
        for term, weight in vec.items():
            postings[term].append((i, weight))
    graph: list[dict[int, float]] = [{} for _ in units]
    for plist in postings.values():
        for a in range(len(plist)):
            i, wi = plist[a]
            row = graph[i]
            for b in range(a + 1, len(plist)):
                j, wj = plist[b]
                row[j] = row.get(j, 0.0) + wi * wj
    # Mirror the upper triangle so each row lists all neighbours.
    for i, row in enumerate(graph):
        for j, w in list(row.items()):
            if j > i:
                graph[j][i] = w
    return graph


def pagerank(
    graph: Sequence[Mapping[int, float]],
    personalization: Sequence[float] | None = None,
    damping: float = DAMPING,
) -> list[float]:
    """Weighted PageRank; scores sum to 1. Nodes without edges spread their rank by the
    teleport vector (uniform, or ``personalization`` normalized)."""
    n = len(graph)
    if n == 0:
        return []
    if personalization is None:
        teleport = [1.0 / n] * n
    else:
        total = sum(max(p, 0.0) for p in personalization)
        teleport = [max(p, 0.0) / total for p in personalization] if total else [1.0 / n] * n
    out_weight = [sum(row.values()) for row in graph]
    scores = list(teleport)
    for _ in range(_MAX_ITERATIONS):
        dangling = sum(scores[i] for i in range(n) if out_weight[i] == 0.0)
        new = [(1.0 - damping + damping * dangling) * teleport[i] for i in range(n)]
        for j, row in enumerate(graph):
            if out_weight[j] == 0.0:
                continue
            share = damping * scores[j] / out_weight[j]
            for i, w in row.items():
                new[i] += share * w
        delta = sum(abs(a - b) for a, b in zip(new, scores, strict=True))
        scores = new
        if delta < _TOLERANCE:
            break
    return scores


def rank(
    units: Sequence[Sequence[str]],
    idf: Mapping[str, float] | None = None,
    personalization: Sequence[float] | None = None,
) -> list[float]:
    """TextRank scores of ``units`` (each a list of terms), summing to 1."""
    return pagerank(similarity_graph(units, idf), personalization)
