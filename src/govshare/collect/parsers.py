"""Uploaded tables (CSV, xlsx, JSON Lines) → pyarrow RecordBatches of string columns (R-COL-05, R-COL-13).

Pure Python (stdlib, pyarrow, charset_normalizer, python_calamine): the record store's validator
consumes what this yields, and loads run to a million rows, so CSV goes through pyarrow's streaming
C++ reader and JSONL is read line by line; memory stays at a few blocks whatever the file size.

Rules every format shares, so a value means the same whatever the provider uploaded:

* every column is ``pa.string()``, in header order; a cell that is empty or only whitespace is null,
  anything else is kept exactly (no trimming: the validator decides);
* rows whose cells are all null are dropped (Excel/WPS exports end in such rows). Batches carry no
  row numbers, so ``TableSource.line_of(i)`` turns the 0-based index of a yielded row into the number
  the provider sees: the line of a JSONL file, the row of the xlsx sheet, the record of a CSV file
  counted the way Excel/WPS number rows (header = 1; equal to the physical line unless a value holds a
  line break). Without dropped rows and with the header on line 1 it is simply ``i + 2``.

Encodings are detected, not assumed (GBK is always decoded as its superset GB18030). An xlsx sheet is
held in memory by calamine (the format needs random access); its rows become Python values lazily.

Throughput, measured once (2-core VM shared with other jobs; 1,000,000 rows × 10 columns of
Chinese/ASCII text, 140 MB UTF-8 / 114 MB GBK; whole ``open_table(...).batches()`` loop):
UTF-8 ≈ 3,000,000 rows/s (≈ 900,000 while the VM ran at load average 20); GBK, decoded as GB18030
through Python's codec, ≈ 800,000-1,400,000 rows/s (≈ 500,000 under that load). Arrow memory stayed
under 35 MB. JSONL runs at ≈ 140,000 rows/s of CPU time (json.loads is most of it), xlsx ≈ 80,000.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import json
import math
import os
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

HEAD_BYTES = 64 * 1024  # read to detect the format, the encoding and the header
SCAN_CHUNK = 1 << 20  # an all-ASCII head is followed until the first non-ASCII chunk
CSV_BLOCK = 1 << 20  # pyarrow block: bounds memory, a record must fit; 1 MB parsed faster than 4 MB here
DELIMITERS = (",", "\t", ";")
EXCEL_DIGITS = 15  # Excel keeps 15 significant digits of a number

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_GB_ALIASES = {"gbk", "gb2312", "cp936", "gb18030", "hz"}
_TEXT_ENCODINGS = {"utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-32"}  # trusted without an extension
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_PYARROW_ROW = re.compile(r"Row #(\d+)")
_PYARROW_RAGGED = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+): (.*)", re.S)


class ParseError(Exception):
    """A file we cannot read as a table: ``code`` for machines, ``message`` in Chinese, ``row`` = file line."""

    def __init__(self, code: str, message: str, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row
        self.column = column

    def __repr__(self) -> str:
        return f"ParseError({self.code!r}, {self.message!r}, row={self.row!r})"


@dataclass
class ItemRef:
    """An information item (信息项) as the catalog declares it."""

    code: str
    name: str


# --------------------------------------------------------------------------------------------------
# Encoding


def _decode(sample: bytes, encoding: str, complete: bool) -> str | None:
    # An incremental decoder keeps an incomplete trailing sequence instead of failing on it, so a
    # sample cut in the middle of a character is judged by the characters it does hold.
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=complete)
    except UnicodeDecodeError:
        return None


# Characters Chinese text is made of: ideographs (with extensions), CJK and full-width punctuation,
# and the few Latin-1/general punctuation marks Chinese documents use (· × ° — “ ” …).
_IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_CJKISH = re.compile(
    r"[\u00b0\u00b7\u00d7\u2010-\u205e\u2160-\u217f\u3000-\u303f\u3400-\u9fff\uf900-\ufaff"
    r"\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def _reads_as_chinese(text: str) -> bool:
    """Has ideographs and is mostly Chinese-looking, as a real UTF-8 file from here is.

    Or has no ideographs but only Chinese punctuation, at least one of it three bytes long in
    UTF-8 (（），。“”): GBK bytes decoding to that are far rarer than a file of numbers and brackets.
    """
    cjkish = _CJKISH.findall(text)
    if _IDEOGRAPH.search(text):
        return 2 * len(cjkish) >= _non_ascii(text)
    return len(cjkish) == _non_ascii(text) and any(c >= "\u2000" for c in cjkish)


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """BOM, then strict UTF-8, then strict GB18030 (GBK's superset), then charset_normalizer's guess.

    Deterministic. One refinement of "UTF-8 if it decodes": a few GBK characters often form valid
    UTF-8 too (about one sample in five with one character, e.g. 0xC4 0xA3 → "ģ"); when the UTF-8
    reading has no Chinese in it but the GB18030 reading is all Chinese, GB18030 wins. A UTF-8
    sample whose only non-ASCII is a lone "·" or "°" (two bytes, like a GBK character) reads as GBK. ``complete``
    says the sample is the whole file, so a cut-off last character is then an error.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" not in sample:  # NULs mean UTF-16/32 without a BOM, which UTF-8 would accept
        text = _decode(sample, "utf-8", complete)
        if text is not None:
            if (text.isascii() and sample.isascii()) or _reads_as_chinese(text):
                return "utf-8"
            gb = _decode(sample, "gb18030", complete)
            if gb is not None and _IDEOGRAPH.search(gb) and len(_CJKISH.findall(gb)) == _non_ascii(gb):
                return "gb18030"
            return "utf-8"
        if _decode(sample, "gb18030", complete) is not None:
            return "gb18030"
    import charset_normalizer  # only for the rare file that is neither UTF-8 nor GB18030

    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise ParseError("unknown_encoding", "无法识别文件的字符编码，请将文件另存为 UTF-8 编码后重新上传")
    return best.encoding


def _normalise_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ParseError("unknown_encoding", f"不支持的字符编码「{encoding}」") from None
    return "gb18030" if name in _GB_ALIASES else name


# --------------------------------------------------------------------------------------------------
# Shared plumbing


class _Stream(io.RawIOBase):
    """The caller's file, with bytes already read in front of it; closing it leaves the file open."""

    def __init__(self, fileobj: BinaryIO, prefix: bytes = b""):
        self._f = fileobj
        self._prefix = prefix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._f.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self._prefix = self._prefix + self._f.read(), b""
            return data
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._f.read(size)


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class _Lines:
    """Index of a yielded row → the line/row number the provider sees, given the rows left out."""

    def __init__(self, first: int):
        self.first = first
        self.kept = 0
        self._skipped = 0
        self._starts: list[int] = []
        self._skips: list[int] = []

    def keep(self, n: int = 1) -> None:
        self.kept += n

    def skip(self, n: int = 1) -> None:
        self._skipped += n
        if self._starts and self._starts[-1] == self.kept:
            self._skips[-1] = self._skipped
        else:
            self._starts.append(self.kept)
            self._skips.append(self._skipped)

    def next_line(self) -> int:
        return self.first + self.kept + self._skipped

    def line_of(self, index: int) -> int:
        k = bisect_right(self._starts, index) - 1
        return self.first + index + (self._skips[k] if k >= 0 else 0)


_NULL = pa.scalar(None, pa.string())


def _blank_to_null(array: pa.Array) -> pa.Array:
    # utf8_is_space is true for non-empty all-whitespace strings (the same set as str.isspace)
    blank = pc.utf8_is_space(array)
    if pc.any(blank).as_py():
        array = pc.if_else(blank, _NULL, array)
    return array


def _finish(arrays: list[pa.Array], names: list[str], lines: _Lines, size: int) -> Iterator[pa.RecordBatch]:
    """Blank cells → null, all-null rows dropped (and counted in ``lines``), at most ``size`` rows a batch."""
    arrays = [_blank_to_null(a) for a in arrays]
    n = len(arrays[0]) if arrays else 0
    if n == 0:
        return
    if arrays and all(a.null_count for a in arrays):
        empty = pc.is_null(arrays[0])
        for a in arrays[1:]:
            empty = pc.and_(empty, pc.is_null(a))
        dropped = pc.indices_nonzero(empty).to_pylist()
        if dropped:
            position = 0
            for d in dropped:
                lines.keep(d - position)
                lines.skip()
                position = d + 1
            lines.keep(n - position)
            keep = pc.invert(empty)
            arrays = [a.filter(keep) for a in arrays]
            n -= len(dropped)
        else:
            lines.keep(n)
    else:
        lines.keep(n)
    batch = pa.RecordBatch.from_arrays(arrays, names=names)
    for start in range(0, n, size):
        yield batch.slice(start, size)


class _Collector:
    """Rows built in Python (xlsx, JSONL), whitespace-only cells already None; keeps ``lines`` in step."""

    def __init__(self, names: list[str], lines: _Lines):
        self.names = names
        self.lines = lines
        self.rows: list[list] = []  # of the current batch; transposed in C when flushed
        self._uncounted = 0  # rows added since ``lines`` last heard of them

    def add(self, row: list) -> int:
        self.rows.append(row)
        self._uncounted += 1
        return len(self.rows)

    def blank(self) -> None:
        self.lines.keep(self._uncounted)
        self._uncounted = 0
        self.lines.skip()

    def flush(self) -> pa.RecordBatch:
        self.lines.keep(self._uncounted)
        self._uncounted = 0
        columns = zip(*self.rows, strict=True)
        self.rows = []
        arrays = [pa.array(c, type=pa.string()) for c in columns]
        return pa.RecordBatch.from_arrays(arrays, names=self.names)


def _text(value: str) -> str | None:
    return None if not value or value.isspace() else value


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _clean_header(value: str) -> str:
    return value.replace("\ufeff", "").strip()


# --------------------------------------------------------------------------------------------------
# Sources


class TableSource:
    """An opened upload: ``headers`` as in the file, then ``batches()`` (iterate once) of string columns."""

    format: str = ""

    def __init__(self, headers: list[str], encoding: str | None, first_data_line: int):
        self.headers = headers
        self.encoding = encoding
        self.first_data_line = first_data_line
        self._lines = _Lines(first_data_line)

    def batches(self, size: int = 65536) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def line_of(self, index: int) -> int:
        """The file line (CSV record, xlsx row) of the ``index``-th row yielded so far (0-based)."""
        return self._lines.line_of(index)

    def close(self) -> None:
        pass

    def __enter__(self) -> TableSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_record(text: str) -> tuple[int, dict[str, int]]:
    """End offset of the first record (outside quotes) and, for that record, delimiter counts."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "\r\n":
            return i, counts
        elif ch in counts:
            counts[ch] += 1
    return -1, counts


class _CsvSource(TableSource):
    format = "csv"

    def __init__(self, stream: _Stream, text: str, complete: bool, encoding: str):
        text = text.lstrip("\ufeff")
        skip = 0
        while True:  # blank lines before the header: pyarrow skips them by count
            end = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
            if end < 0 or text[:end].strip():
                break
            if text[end : end + 2] == "\r\n":
                end += 1
            text = text[end + 1 :]
            skip += 1
        if not text.strip():
            raise ParseError("empty_file", "文件中没有表头和数据")
        end, counts = _first_record(text)
        if end < 0:
            if not complete:
                raise ParseError(
                    "header_too_long", "第1行（表头）过长或引号不成对，无法识别表头", row=skip + 1
                )
            end = len(text)
        best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
        self.delimiter = best if counts[best] else ","
        raw = next(csv.reader([text[:end]], delimiter=self.delimiter, strict=False), [])
        headers = [_clean_header(h) for h in raw]
        width = len(headers)
        while len(headers) > 1 and not headers[-1]:
            headers.pop()  # "a,b,c," from spreadsheet exports: the trailing empty column is not data
        super().__init__(headers, encoding, skip + 2)
        self._stream = stream
        self._skip = skip
        self._width = width

    def _reader(self):
        names = [f"c{i}" for i in range(self._width)]
        codec = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        return pacsv.open_csv(
            self._stream,
            read_options=pacsv.ReadOptions(
                encoding=codec,
                block_size=CSV_BLOCK,
                column_names=names,
                skip_rows=self._skip,
                use_threads=False,  # serial parsing is what puts the row number in error messages
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,  # an empty line is a row, so record numbers match Excel's
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )

    def _translate(self, exc: Exception) -> ParseError:
        text = str(exc)
        ragged = _PYARROW_RAGGED.search(text)
        if ragged:
            line, expected, actual, preview = ragged.groups()
            preview = preview if len(preview) <= 60 else preview[:60] + "…"
            return ParseError(
                "ragged_row",
                f"第{line}行有 {actual} 列，与表头的 {expected} 列不一致"
                f"（请检查该行的分隔符「{self.delimiter}」和引号）：{preview}",
                row=int(line),
            )
        match = _PYARROW_ROW.search(text)
        line = int(match.group(1)) if match else None
        # The transcoder reads ahead of the parser, so a decoding error only says "after this line".
        where = f"第{line}行" if line else f"第{self._lines.next_line()}行或其后（无法确定具体行号）"
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in text:
            return ParseError(
                "encoding_error",
                f"{where}有不符合 {self.encoding} 编码的字节，文件可能混用了多种编码；请统一另存为 UTF-8 后重新上传",
                row=line,
            )
        if "straddl" in text:
            return ParseError(
                "malformed_csv",
                f"{where}有引号未闭合的值（或一行超过 {CSV_BLOCK >> 20} MB），无法确定该行在哪里结束",
                row=line,
            )
        return ParseError("malformed_csv", f"{where}的 CSV 格式有误：{text}", row=line)

    def batches(self, size: int = 65536) -> Iterator[pa.RecordBatch]:
        headers, width = self.headers, len(self.headers)
        first = True
        try:
            reader = self._reader()
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                if first:
                    batch, first = batch.slice(1), False  # the header record
                arrays = batch.columns
                for extra in range(width, self._width):  # the columns without a name must stay empty
                    column = _blank_to_null(arrays[extra])
                    if column.null_count != len(column):
                        self._unnamed_value(column, extra)
                yield from _finish(arrays[:width], headers, self._lines, size)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._translate(exc) from None

    def _unnamed_value(self, column: pa.Array, index: int) -> None:
        at = pc.indices_nonzero(pc.is_valid(column))[0].as_py()
        line = self._lines.next_line() + at  # this batch's rows are not counted yet
        raise ParseError(
            "ragged_row",
            f"第{line}行第{index + 1}列有值「{column[at].as_py()}」，但该列没有列名（表头为空）",
            row=line,
        )


def _excel_text(value, row: int, col: int) -> str | None:
    """One calamine cell as the text a person sees in Excel (None when empty)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            if abs(value) >= 10**EXCEL_DIGITS:
                cell = f"{_column_letter(col)}{row}"
                raise ParseError(
                    "number_precision",
                    f"单元格 {cell} 是 16 位及以上的数字（{Decimal(f'{value:.15g}'):f}），Excel 只保存 15 位有效数字，"
                    "其余各位已经丢失（身份证号、银行卡号常见）；请把该列设置为「文本」格式后重新录入",
                    row=row,
                    column=_column_letter(col),
                )
            return str(int(value))
        text = format(Decimal(f"{value:.{EXCEL_DIGITS}g}"), "f")  # what Excel shows, never 1e-07
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, dt.datetime):
        return (value + dt.timedelta(microseconds=500_000)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return None if value is None else _text(str(value))


class _XlsxSource(TableSource):
    format = "xlsx"

    def __init__(self, fileobj: BinaryIO):
        import python_calamine

        try:
            self._book = python_calamine.CalamineWorkbook.from_filelike(fileobj)
        except Exception as exc:  # calamine raises its own zip/xml error types
            raise ParseError(
                "unsupported_format", f"无法读取 xlsx 工作簿（文件损坏或不是 xlsx 格式）：{exc}"
            ) from None
        sheet = None
        for index, meta in enumerate(self._book.sheets_metadata):
            if meta.visible == python_calamine.SheetVisibleEnum.Visible and (
                meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            ):
                sheet = self._book.get_sheet_by_index(index)
                break
        if sheet is None or sheet.start is None:
            self.close()
            raise ParseError("empty_file", "工作簿中没有可见的、含数据的工作表")
        # iter_rows yields every row from row 1, but its cells start at the first used column.
        self._col0 = sheet.start[1]
        self._rows = iter(sheet.iter_rows())
        header_row, texts = 0, []
        try:
            for number, cells in enumerate(self._rows, start=1):
                texts = [_excel_text(v, number, self._col0 + j) for j, v in enumerate(cells)]
                if any(t is not None for t in texts):
                    header_row = number
                    break
        except ParseError:
            self.close()
            raise
        if not header_row:
            self.close()
            raise ParseError("empty_file", "工作表中没有表头和数据")
        while texts and texts[-1] is None:
            texts.pop()
        super().__init__([_clean_header(t or "") for t in texts], None, header_row + 1)

    def batches(self, size: int = 65536) -> Iterator[pa.RecordBatch]:
        width, col0 = len(self.headers), self._col0
        out = _Collector(self.headers, self._lines)
        number = self._lines.next_line() - 1
        for cells in self._rows:
            number += 1
            row = [None] * width
            blank = True
            for j, value in enumerate(cells):
                if value == "":
                    continue
                text = _excel_text(value, number, col0 + j)
                if text is None:
                    continue
                if j >= width:
                    raise ParseError(
                        "ragged_row",
                        f"单元格 {_column_letter(col0 + j)}{number} 有值「{text}」，但该列没有列名（表头为空）",
                        row=number,
                    )
                row[j] = text
                blank = False
            if blank:
                out.blank()
                continue
            if out.add(row) >= size:
                yield out.flush()
        if out.rows:
            yield out.flush()

    def close(self) -> None:
        book, self._book = getattr(self, "_book", None), None
        if book is not None:
            try:
                book.close()
            except Exception:  # already closed
                pass


def _json_text(value, line: int) -> str | None:
    kind = type(value)
    if kind is str:
        return None if not value or value.isspace() else value
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return json.dumps(value)
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise ParseError("invalid_json", f"第{line}行的数值 {value} 不是合法的 JSON 数值", row=line)
        return json.dumps(value)
    if kind is list or kind is dict:
        raise ParseError(
            "nested_value",
            f"第{line}行的值是嵌套的数组或对象，每个信息项只能是文本、数字、布尔值或 null",
            row=line,
        )
    return _text(str(value))


def _no_constant(name: str):
    raise ValueError(f"{name} 不是合法的 JSON 数值")


_JSON = json.JSONDecoder(parse_constant=_no_constant)  # one decoder: json.loads(…, kw) builds one a call


class _JsonlSource(TableSource):
    format = "jsonl"

    def __init__(self, stream: _Stream, encoding: str):
        # Lines are split as bytes and decoded one by one, so a bad byte is pinned to its line; in
        # UTF-8 and GB18030 "\n" is never part of a multi-byte character. UTF-16/32 go through a
        # text wrapper (closing it is safe: _Stream never closes the caller's file).
        buffered = io.BufferedReader(stream, 1 << 20)
        if encoding.startswith(("utf-16", "utf-32")):
            self._raw = io.TextIOWrapper(buffered, encoding=encoding, newline=None)
            self._decode = str
        else:
            self._raw = buffered
            self._decode = codecs.getdecoder(encoding)
        self.encoding = encoding
        number, first = 0, None
        for line in self._raw:
            number += 1
            line = self._text_of(line, number)
            if not line.isspace():
                first = self._parse(line, number)
                break
        if first is None:
            raise ParseError("empty_file", "文件中没有数据")
        self._first = first
        self._keys = {k: i for i, k in enumerate(first)}
        super().__init__([_clean_header(k) for k in first], encoding, number)

    def _text_of(self, line, number: int) -> str:
        if isinstance(line, str):
            return line
        try:
            return self._decode(line)[0]
        except UnicodeDecodeError:
            raise ParseError(
                "encoding_error",
                f"第{number}行有不符合 {self.encoding} 编码的字节，请统一另存为 UTF-8",
                row=number,
            ) from None

    @staticmethod
    def _parse(line: str, number: int) -> dict:
        try:
            obj = _JSON.decode(line)
        except json.JSONDecodeError as exc:
            raise ParseError(
                "invalid_json", f"第{number}行不是合法的 JSON（第{exc.colno}个字符附近）", row=number
            ) from None
        except ValueError as exc:  # NaN / Infinity
            raise ParseError("invalid_json", f"第{number}行不是合法的 JSON：{exc}", row=number) from None
        if type(obj) is not dict:
            raise ParseError(
                "not_object", f'第{number}行不是 JSON 对象（应为 {{"列名": 值, …}}）', row=number
            )
        return obj

    def _column(self, key: str, number: int) -> int:
        stripped = _clean_header(key)
        if stripped not in self.headers:
            raise ParseError(
                "inconsistent_keys",
                f"第{number}行有键「{key}」，但第一条记录（第{self.first_data_line}行）没有这个键；"
                "以后各行的键必须是第一条记录中的键",
                row=number,
            )
        self._keys[key] = i = self.headers.index(stripped)
        return i

    def batches(self, size: int = 65536) -> Iterator[pa.RecordBatch]:
        width = len(self.headers)
        out = _Collector(self.headers, self._lines)
        first, self._first = self._first, None
        first_keys = tuple(first or ())
        keys, convert, decode, loads = self._keys, _json_text, self._decode, _JSON.decode
        number = self.first_data_line - 1
        lines = self._raw if first is None else itertools.chain([None], self._raw)
        for raw in lines:  # one flat loop: this is the per-row hot path
            number += 1
            if raw is None:
                obj = first
            else:
                try:
                    line = raw if raw.__class__ is str else decode(raw)[0]
                    if line.isspace():
                        out.blank()
                        continue
                    obj = loads(line)
                except (UnicodeDecodeError, ValueError):
                    obj = self._parse(self._text_of(raw, number), number)  # raises, naming the line
                if obj.__class__ is not dict:
                    self._parse(line, number)  # raises not_object
            if tuple(obj) == first_keys:  # the usual case; plain text skips the call
                row = [
                    v if v.__class__ is str and v and not v.isspace() else convert(v, number)
                    for v in obj.values()
                ]
            else:
                row = [None] * width
                for key, value in obj.items():
                    i = keys.get(key)
                    row[self._column(key, number) if i is None else i] = convert(value, number)
            if row.count(None) == width:  # {} or all nulls: a blank row, as in CSV and xlsx
                out.blank()
                continue
            if out.add(row) >= size:
                yield out.flush()
        if out.rows:
            yield out.flush()

    def close(self) -> None:
        raw, self._raw = getattr(self, "_raw", None), None
        if raw is not None:
            raw.close()


# --------------------------------------------------------------------------------------------------
# Entry points


def _sniff(head: bytes) -> str | None:
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        raise ParseError(
            "unsupported_format", "不支持旧版 Excel（.xls）文件，请在 Excel/WPS 中另存为 .xlsx 或 CSV 后上传"
        )
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if body.startswith(b"{"):
        return "jsonl"
    if body.startswith(b"["):
        raise ParseError(
            "unsupported_format",
            "JSON 数组文件不支持，请改为每行一个 JSON 对象的 JSON Lines（.jsonl）或使用接口推送",
        )
    return None


_BY_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def open_table(fileobj: BinaryIO, filename: str, *, encoding: str | None = None) -> TableSource:
    """Open an upload, reading it from its current position; the caller keeps and closes ``fileobj``."""
    ext = os.path.splitext(filename or "")[1].lower()
    try:
        seekable = bool(fileobj.seekable())
    except (AttributeError, ValueError):
        seekable = False
    start = fileobj.tell() if seekable else 0
    head = _read_exactly(fileobj, HEAD_BYTES)
    whole = len(head) < HEAD_BYTES
    if not head.strip():
        raise ParseError("empty_file", "文件为空")
    sniffed = _sniff(head)
    fmt = _BY_EXTENSION.get(ext)
    if sniffed == "xlsx" or fmt == "xlsx":
        if sniffed != "xlsx":
            raise ParseError(
                "unsupported_format", f"文件「{filename}」的扩展名是 .xlsx，但内容不是 xlsx 工作簿"
            )
        if seekable:
            fileobj.seek(start)
            return _XlsxSource(fileobj)
        return _XlsxSource(io.BytesIO(head + fileobj.read()))  # calamine needs random access
    guessed = fmt is None
    fmt = fmt or sniffed or "csv"

    prefix = head  # what a stream that cannot seek must replay
    try:
        if encoding is not None:
            encoding = _normalise_encoding(encoding)
        else:
            sample, complete = head, whole
            if not whole and head.isascii():
                # An ASCII head says nothing (a GBK file may have code headers and ASCII first rows):
                # decide on the first chunk that is not ASCII.
                while True:
                    chunk = _read_exactly(fileobj, SCAN_CHUNK)
                    if not seekable:
                        prefix += chunk
                    sample, complete = chunk, len(chunk) < SCAN_CHUNK
                    if complete or not chunk.isascii():
                        break
                    if not seekable and len(prefix) >= 16 * SCAN_CHUNK:
                        break  # stop buffering: all ASCII so far, read as UTF-8
            encoding = _normalise_encoding(detect_encoding(sample, complete=complete))
    except ParseError:
        if guessed:
            raise ParseError(
                "unsupported_format", f"不支持的文件格式：{filename}（请上传 CSV、xlsx 或 JSONL 文件）"
            ) from None
        raise
    text = codecs.getincrementaldecoder(encoding)("replace").decode(head, final=whole)
    if "\x00" in text or (guessed and (encoding not in _TEXT_ENCODINGS or _CONTROL.search(text))):
        raise ParseError(
            "unsupported_format", f"文件「{filename}」不是文本表格（请上传 CSV、xlsx 或 JSONL 文件）"
        )
    if seekable:
        fileobj.seek(start)
        stream = _Stream(fileobj)
    else:
        stream = _Stream(fileobj, prefix)
    if fmt == "jsonl":
        return _JsonlSource(stream, encoding)
    return _CsvSource(stream, text, whole, encoding)


def map_headers(headers: list[str], items: list[ItemRef]) -> list[str]:
    """The item code for each column: a header is an item's code (any case) or its name."""
    by_code = {item.code.strip().casefold(): item for item in items}
    by_name = {_name_key(item.name): item for item in items}
    codes: list[str] = []
    seen: dict[str, str] = {}
    for position, header in enumerate(headers, start=1):
        if not header or not header.strip():
            raise ParseError(
                "empty_header", f"第{position}列的列名为空，请填写信息项名称或代码", column=str(position)
            )
        item = by_code.get(header.strip().casefold()) or by_name.get(_name_key(header))
        if item is None:
            raise ParseError(
                "unknown_column",
                f"列「{header}」不是该资源的信息项，可用的列名为信息项名称或代码",
                column=header,
            )
        if item.code in seen:
            raise ParseError(
                "duplicate_column",
                f"列「{seen[item.code]}」和列「{header}」都对应信息项「{item.name}」（{item.code}），只能保留一列",
                column=header,
            )
        seen[item.code] = header
        codes.append(item.code)
    return codes


def _name_key(name: str) -> str:
    key = "".join(name.split())  # spaces, tabs and full-width spaces anywhere
    while key.endswith(("*", "＊")):  # templates mark required columns 姓名*
        key = key[:-1]
    return key


def rows_to_batch(rows: list[dict], columns: list[str]) -> pa.RecordBatch:
    """Rows pushed through the JSON API, converted exactly as a JSONL upload would be.

    ``ParseError.row`` is the 1-based position of the row in ``rows``; all-null rows are kept.
    """
    index = {c: j for j, c in enumerate(columns)}
    data: list[list] = [[None] * len(rows) for _ in columns]
    for i, row in enumerate(rows):
        if type(row) is not dict:
            raise ParseError("not_object", f"第{i + 1}条记录不是 JSON 对象", row=i + 1)
        for key, value in row.items():
            j = index.get(key)
            if j is None:
                raise ParseError(
                    "unknown_column",
                    f"第{i + 1}条记录的键「{key}」不是该资源的信息项代码",
                    row=i + 1,
                    column=str(key),
                )
            try:
                data[j][i] = _json_text(value, i + 1)
            except ParseError as exc:
                exc.message = exc.message.replace(f"第{i + 1}行", f"第{i + 1}条记录", 1)
                exc.args = (exc.message,)
                raise
    arrays = [pa.array(c, type=pa.string()) for c in data]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))
