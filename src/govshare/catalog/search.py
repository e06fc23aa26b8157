"""Catalog search: one index table per database vendor, one ranking, facets counted from what the
viewer may see.

SQLite keeps the tokens in an FTS5 table ranked with bm25 (name weighs most, then items, abstract,
provider); PostgreSQL keeps a weighted tsvector under a GIN index ranked with ts_rank. Both receive
the same bigram tokens (see tokens.py), so both find the same rows. Results are ordered first by how the
whole query meets the name (exact, contained, elsewhere) and then by the index rank, which is what puts
企业营业执照信息 above an entry that merely has a 营业执照号 item.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection

from .tokens import index_tokens, query_terms

FACETS = ("catalog_kind", "provider_id", "share_type", "open_type", "format_category", "update_cycle")
VISIBLE = ("published", "retiring")
_WEIGHTS = {"name": 10.0, "items": 4.0, "abstract": 2.0, "provider": 1.0}


def _documents(resource) -> dict[str, str]:
    items = " ".join(f"{it.name} {it.code}" for it in resource.items.all())
    provider = resource.provider.name if resource.provider_id else ""
    return {
        "name": index_tokens(f"{resource.name} {resource.code}"),
        "items": index_tokens(items),
        "abstract": index_tokens(resource.abstract),
        "provider": index_tokens(provider),
    }


def reindex_resource(resource) -> None:
    if resource.status not in VISIBLE:
        unindex_resource(resource)
        return
    doc = _documents(resource)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "INSERT INTO catalog_search (resource_id, document) VALUES (%s, "
                "setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'B') || "
                "setweight(to_tsvector('simple', %s), 'C') || setweight(to_tsvector('simple', %s), 'D')) "
                "ON CONFLICT (resource_id) DO UPDATE SET document = EXCLUDED.document",
                [resource.pk, doc["name"], doc["items"], doc["abstract"], doc["provider"]],
            )
        else:
            cur.execute("DELETE FROM catalog_search WHERE rowid = %s", [resource.pk])
            cur.execute(
                "INSERT INTO catalog_search (rowid, name, items, abstract, provider) VALUES (%s, %s, %s, %s, %s)",
                [resource.pk, doc["name"], doc["items"], doc["abstract"], doc["provider"]],
            )


def unindex_resource(resource) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DELETE FROM catalog_search WHERE resource_id = %s", [resource.pk])
        else:
            cur.execute("DELETE FROM catalog_search WHERE rowid = %s", [resource.pk])


def _match_sql(q: str) -> tuple[str, list] | None:
    """A sub-select of (id, score) for the query, lower score = better; None when nothing to match."""
    terms = query_terms(q)
    if not terms:
        return None
    if connection.vendor == "postgresql":
        parts = []
        for kind, toks in terms:
            if kind == "phrase":
                parts.append(" <-> ".join(_pg_quote(t) for t in toks))
            else:
                parts.append(_pg_quote(toks[0]) + ":*")
        tsq = " & ".join(f"({p})" for p in parts)
        sql = (
            "SELECT resource_id AS id, -ts_rank(document, to_tsquery('simple', %s), 1) AS score "
            "FROM catalog_search WHERE document @@ to_tsquery('simple', %s)"
        )
        return sql, [tsq, tsq]
    parts = []
    for kind, toks in terms:
        if kind == "phrase":
            parts.append('"' + " ".join(toks) + '"')
        else:
            parts.append('"' + toks[0] + '"*')
    w = ", ".join(str(_WEIGHTS[c]) for c in ("name", "items", "abstract", "provider"))
    sql = (
        f"SELECT rowid AS id, bm25(catalog_search, {w}) AS score FROM catalog_search "
        "WHERE catalog_search MATCH %s"
    )
    return sql, [" AND ".join(parts)]


def _pg_quote(token: str) -> str:
    return "'" + token.replace("'", "''").replace("\\", "\\\\") + "'"


@dataclass
class SearchResult:
    total: int
    ids: list[int]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def search(
    q: str = "",
    filters: dict[str, list[str]] | None = None,
    *,
    public: bool = False,
    page: int = 1,
    per_page: int = 20,
    order: str = "relevance",
) -> SearchResult:
    """Rank, filter and facet the catalog as a viewer sees it.

    Every count comes from the same visible rows as the hits: an entry the viewer may not see never
    shows up in a facet number either. Facet counts for one facet ignore that facet's own filter, so a
    user can widen a choice as well as narrow it.
    """
    filters = {
        k: [str(v) for v in vs if v not in ("", None)] for k, vs in (filters or {}).items() if k in FACETS
    }
    filters = {k: v for k, v in filters.items() if v}
    vis = "r.status IN ('published', 'retiring')"
    if public:
        vis += " AND r.open_type IN ('unconditional', 'conditional')"
    cols = ", ".join(f"r.{f}" for f in FACETS)
    match = _match_sql(q) if q and q.strip() else None
    if match:
        msql, params = match
        qs = q.strip()
        contains = "strpos(r.name, %s) > 0" if connection.vendor == "postgresql" else "instr(r.name, %s) > 0"
        sql = (
            f"SELECT r.id, {cols}, CASE WHEN r.name = %s THEN 0 WHEN {contains} THEN 1 ELSE 2 END AS tier, "
            f"m.score, r.code FROM catalog_resource r JOIN ({msql}) m ON m.id = r.id WHERE {vis}"
        )
        params = [qs, qs, *params]
    elif q and q.strip():
        return SearchResult(0, [], {f: [] for f in FACETS})
    else:
        sql = f"SELECT r.id, {cols}, 0 AS tier, 0 AS score, r.code FROM catalog_resource r WHERE {vis}"
        params = []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    n = len(FACETS)
    wanted = {FACETS.index(k) + 1: set(v) for k, v in filters.items()}

    def passes(row, skip: int | None = None) -> bool:
        return all(str(row[i]) in vals for i, vals in wanted.items() if i != skip)

    facets = {}
    for i, name in enumerate(FACETS, start=1):
        counts = Counter(str(row[i]) for row in rows if row[i] not in ("", None) and passes(row, skip=i))
        facets[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    hits = [row for row in rows if passes(row)]
    if order == "code" or not match:
        hits.sort(key=lambda r: r[n + 3])
    else:
        hits.sort(key=lambda r: (r[n + 1], r[n + 2], r[n + 3]))
    start = max(page - 1, 0) * per_page
    return SearchResult(total=len(hits), ids=[r[0] for r in hits[start : start + per_page]], facets=facets)
