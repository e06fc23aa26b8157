"""Row filters of a grant (行范围): which records a consumer may see. No Django here.

A filter is a list of conditions, all of which a record must meet:

    {"item": "HJDQ", "op": "prefix", "values": ["4301"]}
    {"item": "XB", "op": "in", "values": ["1", "2"]}

Values are compared as text, the way they are stored. An empty filter admits every record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

OPS = {"eq": "等于", "in": "属于", "prefix": "以…开头"}


def validate(conditions, item_codes: Iterable[str]) -> list[str]:
    """Problems with a filter, as sentences for the approver; [] when it is usable."""
    codes = set(item_codes)
    if conditions in (None, []):
        return []
    if not isinstance(conditions, list):
        return ["行范围须为条件列表"]
    problems = []
    for i, c in enumerate(conditions, 1):
        if not isinstance(c, dict):
            problems.append(f"第{i}个条件格式不正确")
            continue
        item, op, values = c.get("item"), c.get("op"), c.get("values")
        if not isinstance(item, str) or not isinstance(op, str):
            problems.append(f"第{i}个条件的信息项和比较方式须为文本")
            continue
        if item not in codes:
            problems.append(f"第{i}个条件的信息项“{item}”不属于该资源")
        if op not in OPS:
            problems.append(f"第{i}个条件的比较方式“{op}”无法识别（可用：eq、in、prefix）")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            problems.append(f"第{i}个条件须给出至少一个非空取值")
        elif op == "eq" and len(values) != 1:
            problems.append(f"第{i}个条件（等于）只能有一个取值")
    return problems


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def compile_filter(conditions) -> Callable[[dict | None], bool]:
    """A predicate over a record's data; build it once per call, apply it to every row."""
    if not conditions:
        return lambda data: data is not None
    tests = []
    for c in conditions:
        item, op, values = c["item"], c["op"], tuple(c["values"])
        if op == "prefix":
            tests.append(lambda d, i=item, vs=values: (t := _text(d.get(i))) is not None and t.startswith(vs))
        else:
            allowed = frozenset(values)
            tests.append(lambda d, i=item, a=allowed: _text(d.get(i)) in a)
    return lambda data: data is not None and all(t(data) for t in tests)


def describe(conditions, names: dict[str, str]) -> str:
    if not conditions:
        return "全部记录"
    parts = []
    for c in conditions:
        name = names.get(c["item"], c["item"])
        vals = "、".join(c["values"])
        if c["op"] == "prefix":
            parts.append(f"{name}以“{vals}”开头")
        elif c["op"] == "in":
            parts.append(f"{name}属于（{vals}）")
        else:
            parts.append(f"{name}等于“{vals}”")
    return "；且".join(parts)
