"""Tokens for Chinese full-text search, shared by the SQLite FTS5 and PostgreSQL tsvector indexes.

Chinese has no spaces, and a dictionary segmenter both misses new terms (部门名称, 事项名称) and
disagrees with itself between index and query time. Overlapping bigrams do neither: every substring of
two or more characters is a phrase of consecutive bigrams, so "营业执照" matches "企业营业执照信息" exactly
as LIKE would, but through an index. The last character of each run is also emitted alone so that a
one-character query can be answered with a prefix match. Latin letters and digits stay whole words.
"""

import re

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9A-Za-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def index_tokens(text: str) -> str:
    """Space-separated tokens to store in the index column."""
    out = []
    for run in _RUN.findall(text or ""):
        if _CJK.match(run):
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.append(run[-1])
        else:
            out.append(run.lower())
    return " ".join(out)


def query_terms(q: str) -> list[tuple[str, list[str]]]:
    """One term per run of the query: ("phrase", [bigrams…]) or ("prefix", [token])."""
    terms = []
    for run in _RUN.findall(q or ""):
        if _CJK.match(run):
            if len(run) == 1:
                terms.append(("prefix", [run]))
            else:
                terms.append(("phrase", [run[i : i + 2] for i in range(len(run) - 1)]))
        else:
            terms.append(("prefix", [run.lower()]))
    return terms
