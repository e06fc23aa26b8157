"""Upload parsers (R-COL-05 digital collection, R-COL-13 standard forms): CSV / xlsx / JSONL → string batches.

Pure: no database. Throughput is measured by hand, never asserted; to re-measure on a
1,000,000-row 10-column CSV (see the module docstring for the figures):

    t = time.perf_counter()
    with open(path, "rb") as f:
        rows = sum(b.num_rows for b in open_table(f, path).batches())
    print(rows / (time.perf_counter() - t), "rows/s")
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import json

import pyarrow as pa
import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from govshare.collect.parsers import (
    ItemRef,
    ParseError,
    TableSource,
    detect_encoding,
    map_headers,
    open_table,
    rows_to_batch,
)

# GB2312 level-1 hanzi: the common characters of real headers and values.
COMMON_HANZI = [
    bytes([hi, lo]).decode("gb2312")
    for hi in range(0xB0, 0xD8)
    for lo in range(0xA1, 0xFF)
    if (hi, lo) < (0xD7, 0xFA)
]
HANZI = "张王李刘陈中国湖南省郴州市北湖区人民路号身份证姓名性别男女备注鑫犇"
GBK_TEXT = HANZI + "，。、“”（）·\u3000"  # all encodable in GBK
GB18030_ONLY = "𠀀𪚥㐀䶵€"  # 4-byte GB18030 (CJK Ext. A/B) and € (A2E3): not in GBK
ASCII_TEXT = "aZ09 -_.:'/"
CSV_HARD = ',"\n\r\t;'  # delimiters, quotes and line breaks inside values


class OneWay(io.RawIOBase):
    """An upload stream that cannot seek (e.g. a request body)."""

    def __init__(self, data: bytes):
        self._inner = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._inner.readinto(buffer)


def read_all(source: TableSource, size: int = 65536) -> list[dict]:
    rows = []
    for batch in source.batches(size):
        assert all(field.type == pa.string() for field in batch.schema)
        rows.extend(batch.to_pylist())
    return rows


def parse(data: bytes, filename: str = "upload.csv", **kwargs) -> tuple[TableSource, list[dict]]:
    source = open_table(io.BytesIO(data), filename, **kwargs)
    return source, read_all(source)


def expected_cell(value: str) -> str | None:
    return None if not value or value.isspace() else value


def csv_bytes(rows: list[list[str]], encoding: str, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(build) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    build(book)
    book.close()
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# CSV round trip


@st.composite
def tables(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030"]))
    alphabet = (
        ASCII_TEXT
        + CSV_HARD
        + GBK_TEXT
        + (GB18030_ONLY if encoding in ("utf-8", "utf-8-sig", "gb18030") else "")
    )
    width = draw(st.integers(1, 5))
    delimiter = draw(st.sampled_from([",", "\t", ";"])) if width > 1 else ","
    header_chars = HANZI + "abcXYZ_0123456789"
    headers = draw(
        st.lists(st.text(header_chars, min_size=1, max_size=6), min_size=width, max_size=width, unique=True)
    )
    values = st.text(alphabet, max_size=12)
    body = draw(st.lists(st.lists(values, min_size=width, max_size=width), max_size=25))
    return encoding, delimiter, headers, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
@example(("gb18030", ",", ["姓名", "备注"], [["𠀀", 'a,"b"\r\nc'], ["", " "], ["\u3000", "x"]]))
def test_csv_round_trips_exactly_in_every_encoding(table):  # R-COL-05
    encoding, delimiter, headers, body = table
    data = csv_bytes([headers, *body], encoding, delimiter)
    source, rows = parse(data)

    assert source.format == "csv"
    assert source.headers == headers
    if encoding == "utf-8-sig":
        assert source.encoding == "utf-8-sig"
    elif data.isascii():
        assert source.encoding == "utf-8"
    else:
        assert source.encoding == ("utf-8" if encoding == "utf-8" else "gb18030")
    # values exactly as written; empty or whitespace-only cells are null; all-empty rows are left out
    expected = [
        (number, dict(zip(headers, map(expected_cell, row), strict=True)))
        for number, row in enumerate(body, start=2)
        if any(expected_cell(v) for v in row)
    ]
    assert rows == [row for _, row in expected]
    # and each row still knows its line (CSV records, counted as Excel/WPS number rows)
    assert [source.line_of(i) for i in range(len(rows))] == [number for number, _ in expected]


def test_gbk_file_whose_head_is_ascii_is_still_read_as_gb18030():  # R-COL-05
    # 身份证号 as codes in the header and ASCII rows for well over the sampled head, Chinese later.
    lines = (
        ["sfzh,xm"] + [f"43100219900101{i:04d},a" for i in range(20_000)] + ["431002199001019999,郴州张三"]
    )
    data = ("\n".join(lines) + "\n").encode("gbk")
    for stream in (io.BytesIO(data), OneWay(data)):
        source = open_table(stream, "renkou.csv")
        rows = read_all(source)
        assert source.encoding == "gb18030"
        assert rows[-1] == {"sfzh": "431002199001019999", "xm": "郴州张三"}
        assert len(rows) == 20_001


def test_csv_keeps_values_untrimmed_and_nulls_blank_cells():
    data = "姓名 , 备注\n 张三 ,\u3000\n李四,\t\n".encode()
    source, rows = parse(data)
    assert source.headers == ["姓名", "备注"]
    assert rows == [{"姓名": " 张三 ", "备注": None}, {"姓名": "李四", "备注": None}]


def test_delimiter_is_detected_from_the_header():
    assert parse("姓名\t住址\n张三\t人民路1号,2栋\n".encode(), "renkou.txt")[1] == [
        {"姓名": "张三", "住址": "人民路1号,2栋"}
    ]
    assert parse("姓名;住址\n张三;人民路\n".encode())[1] == [{"姓名": "张三", "住址": "人民路"}]
    assert parse('"姓名,全称",住址\n张三,人民路\n'.encode())[0].headers == ["姓名,全称", "住址"]


def test_trailing_empty_column_of_spreadsheet_exports_is_ignored_but_must_stay_empty():
    source, rows = parse("姓名,性别,\n张三,男,\n".encode())
    assert source.headers == ["姓名", "性别"]
    assert rows == [{"姓名": "张三", "性别": "男"}]
    with pytest.raises(ParseError) as err:
        parse("姓名,性别,\n张三,男,\n李四,女,多余\n".encode())
    assert (err.value.code, err.value.row) == ("ragged_row", 3)
    assert "第3行" in err.value.message and "没有列名" in err.value.message


def test_ragged_row_names_its_line():  # R-COL-13
    with pytest.raises(ParseError) as err:
        parse("姓名,身份证号\n张三,1\n李四,2,3\n".encode())
    assert err.value.code == "ragged_row"
    assert err.value.row == 3
    assert err.value.message.startswith("第3行有 3 列，与表头的 2 列不一致")


def test_ragged_row_far_into_the_file_after_earlier_batches_were_yielded():
    data = ("a,b\n" + "431002199001011234,郴州市北湖区\n" * 100_000 + '"x\ny",2\n\n3\n').encode()
    source = open_table(io.BytesIO(data), "big.csv")
    seen = 0
    with pytest.raises(ParseError) as err:
        for batch in source.batches(10_000):
            seen += batch.num_rows
    assert seen >= 10_000  # streamed: good rows arrived before the error
    # header 1, 100,000 rows, the record with a line break 100,002, the blank line 100,003
    assert (err.value.code, err.value.row) == ("ragged_row", 100_004)


def test_blank_lines_are_left_out_but_keep_the_numbering():
    source, rows = parse("\n姓名,性别\n张三,男\n\n,\n李四,女\n\n\n".encode())
    assert rows == [{"姓名": "张三", "性别": "男"}, {"姓名": "李四", "性别": "女"}]
    assert [source.line_of(0), source.line_of(1)] == [3, 6]


def test_mixed_encodings_are_refused_with_the_line():
    data = "姓名,性别\n".encode() + "张三,男\n".encode() * 8000 + "李四,女\n".encode("gbk")
    with pytest.raises(ParseError) as err:
        parse(data)  # the head is UTF-8; line 8002 is GBK
    assert (err.value.code, err.value.row) == ("encoding_error", 8002)
    assert "第8002行" in err.value.message
    with pytest.raises(ParseError) as err:
        parse("姓名,性别\n张三,男\n".encode() + "李四,女\n".encode("gbk"))  # within the sampled head
    assert err.value.code == "unknown_encoding"


def test_header_only_file_has_no_rows_and_empty_file_is_refused():
    source, rows = parse("姓名,性别\n".encode())
    assert (source.headers, rows) == (["姓名", "性别"], [])
    for data in (b"", b"  \n\n"):
        with pytest.raises(ParseError) as err:
            parse(data)
        assert err.value.code == "empty_file"


def test_explicit_encoding_overrides_detection_and_gbk_means_gb18030():
    data = "姓名\n𠀀\n".encode("gb18030")
    source, rows = parse(data, encoding="GBK")
    assert source.encoding == "gb18030"
    assert rows == [{"姓名": "𠀀"}]
    with pytest.raises(ParseError) as err:
        parse(data, encoding="no-such-codec")
    assert err.value.code == "unknown_encoding"


def test_a_200k_row_csv_streams_in_bounded_batches():
    # Memory must stay flat for million-row loads: batches come from a generator, never exceed the
    # requested size, and Arrow never holds more than a few blocks of a ~16 MB file at once.
    row = "431002199001011234,张三,男,1990-01-01,13900000000,湖南省郴州市北湖区人民路1号\n"
    data = ("身份证号,姓名,性别,出生日期,联系电话,住址\n" + row * 200_000).encode()
    source = open_table(io.BytesIO(data), "big.csv")
    batches = source.batches(10_000)
    assert inspect.isgenerator(batches)
    total, peak = 0, 0
    for batch in batches:
        assert 0 < batch.num_rows <= 10_000
        total += batch.num_rows
        peak = max(peak, pa.total_allocated_bytes())
    assert total == 200_000
    assert source.line_of(199_999) == 200_001
    assert peak < len(data) // 4


# ----------------------------------------------------------------------------------------------
# Encoding detection


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(COMMON_HANZI) | st.sampled_from(list("ab1, ")), min_size=1, max_size=4))
def test_detects_gbk_and_utf8_from_a_few_chinese_characters(chars):
    text = "".join(chars)
    if text.isascii():
        text += "名"
    # A couple of GBK characters often also form valid UTF-8 (0xC4 0xA3 → "ģ"); they must still be GBK.
    assert detect_encoding(text.encode("gbk")) == "gb18030"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("姓名,性别".encode("gbk"), "gb18030"),
        ("模".encode("gbk"), "gb18030"),  # C4 A3: valid UTF-8 for "ģ"
        ("身份证号码,姓名".encode()[:-1], "utf-8"),  # cut inside the last character
        ("姓名𠀀".encode("gb18030")[:-2], "gb18030"),  # cut inside a 4-byte character
        ("维吾尔族·阿依古丽 25°C".encode(), "utf-8"),
        ("（（".encode(), "utf-8"),  # only full-width punctuation: GB18030 would read 锛堬紙
        ("1，2。“3”".encode(), "utf-8"),
        (b"code,name\n1,2\n", "utf-8"),
        (b"\xef\xbb\xbfcode", "utf-8-sig"),
        ("姓名".encode("utf-16"), "utf-16"),
    ],
)
def test_detect_encoding_on_short_samples(sample, expected):
    assert detect_encoding(sample) == expected


def test_detect_encoding_is_strict_about_a_cut_when_the_sample_is_the_whole_file():
    sample = "姓名,性别".encode()[:-1]
    assert detect_encoding(sample) == "utf-8"
    assert detect_encoding(sample, complete=True) != "utf-8"


# ----------------------------------------------------------------------------------------------
# Format


def test_format_by_extension_then_by_content():
    jsonl = '{"姓名": "张三"}\n'.encode()
    assert open_table(io.BytesIO(jsonl), "upload.ndjson").format == "jsonl"
    assert open_table(io.BytesIO(jsonl), "upload").format == "jsonl"
    assert open_table(io.BytesIO("姓名\n张三\n".encode()), "upload.dat").format == "csv"
    book = xlsx_bytes(lambda b: b.add_worksheet().write(0, 0, "姓名"))
    assert open_table(io.BytesIO(book), "upload").format == "xlsx"
    assert open_table(io.BytesIO(book), "renamed.csv").format == "xlsx"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.xls"),
        (b"%PDF-1.4\n\x00\x01\x02\x03binary", "scan.pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo"),
        ('[{"姓名": "张三"}]'.encode(), "array.json"),
        ("姓名,性别\n".encode(), "really-text.xlsx"),
    ],
)
def test_unsupported_formats_are_refused(data, filename):
    with pytest.raises(ParseError) as err:
        open_table(io.BytesIO(data), filename)
    assert err.value.code == "unsupported_format"


def test_caller_keeps_the_file_open():
    stream = io.BytesIO(b'{"a": 1}\n')
    source = open_table(stream, "x.jsonl")
    read_all(source)
    source.close()
    assert not stream.closed


# ----------------------------------------------------------------------------------------------
# xlsx


def test_xlsx_cells_read_as_excel_shows_them():  # R-COL-05
    def build(book):
        hidden = book.add_worksheet("说明")
        hidden.write(0, 0, "填写说明")
        sheet = book.add_worksheet("数据")
        sheet.activate()
        hidden.hide()
        date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
        time_fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.write_row(1, 1, ["身份证号", " 姓名* ", "出生日期", "登记时间", "人数", "面积", "在册", "备注"])
        sheet.write_string(2, 1, "431002199001011234")
        sheet.write(2, 2, "张三")
        sheet.write_datetime(2, 3, dt.date(1990, 1, 1), date_fmt)
        sheet.write_datetime(2, 4, dt.datetime(2024, 5, 1, 8, 30, 5), time_fmt)
        sheet.write_number(2, 5, 3)
        sheet.write_number(2, 6, 12.5)
        sheet.write_boolean(2, 7, True)
        sheet.write(2, 8, "  ")
        sheet.write(4, 2, "李四")  # row 4 is blank
        sheet.write_number(4, 5, 123456789012345)  # 15 digits: still exact
        sheet.write_number(4, 6, 1e-7)

    source, rows = parse(xlsx_bytes(build), "renkou.xlsx")
    assert (source.format, source.encoding) == ("xlsx", None)
    assert source.headers == ["身份证号", "姓名*", "出生日期", "登记时间", "人数", "面积", "在册", "备注"]
    assert rows == [
        {
            "身份证号": "431002199001011234",
            "姓名*": "张三",
            "出生日期": "1990-01-01",
            "登记时间": "2024-05-01 08:30:05",
            "人数": "3",
            "面积": "12.5",
            "在册": "true",
            "备注": None,
        },
        {
            "身份证号": None,
            "姓名*": "李四",
            "出生日期": None,
            "登记时间": None,
            "人数": "123456789012345",
            "面积": "0.0000001",
            "在册": None,
            "备注": None,
        },
    ]
    assert [source.line_of(0), source.line_of(1)] == [3, 5]  # sheet rows


def test_xlsx_id_number_typed_as_a_number_is_refused():  # R-COL-04
    def build(book):
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["姓名", "身份证号"])
        sheet.write_row(1, 0, ["张三", "431002199001011234"])
        sheet.write(2, 0, "李四")
        sheet.write_number(2, 1, 431002199001011234)  # Excel keeps 431002199001011000

    source = open_table(io.BytesIO(xlsx_bytes(build)), "renkou.xlsx")
    with pytest.raises(ParseError) as err:
        read_all(source)
    assert (err.value.code, err.value.row, err.value.column) == ("number_precision", 3, "B")
    assert "B3" in err.value.message and "文本" in err.value.message


def test_xlsx_value_outside_the_header_is_refused():
    def build(book):
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["姓名", "性别"])
        sheet.write_row(1, 0, ["张三", "男", "多余"])

    with pytest.raises(ParseError) as err:
        parse(xlsx_bytes(build), "x.xlsx")
    assert (err.value.code, err.value.row) == ("ragged_row", 2)
    assert "C2" in err.value.message


def test_xlsx_batches_have_the_requested_size_and_stream_from_a_one_way_upload():
    def build(book):
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["编号", "名称"])
        for i in range(1, 1001):
            sheet.write_row(i, 0, [i, f"名称{i}"])

    source = open_table(OneWay(xlsx_bytes(build)), "x.xlsx")
    sizes = [b.num_rows for b in source.batches(300)]
    assert sizes == [300, 300, 300, 100]
    source.close()


# ----------------------------------------------------------------------------------------------
# JSON Lines


def test_jsonl_values_become_text_like_json_writes_them():
    data = (
        '{"姓名": "张三", "年龄": 30, "面积": 12.50, "在册": true, "备注": null, "编号": 431002199001011234}\n'
        "\n"
        '{"年龄": 1e3, "姓名": " 李四", "备注": "  "}\n'
        "   \n"
        '{"在册": false}\r\n'
    ).encode()
    source, rows = parse(data, "x.jsonl")
    assert source.headers == ["姓名", "年龄", "面积", "在册", "备注", "编号"]
    assert rows == [
        {
            "姓名": "张三",
            "年龄": "30",
            "面积": "12.5",
            "在册": "true",
            "备注": None,
            "编号": "431002199001011234",
        },
        {"姓名": " 李四", "年龄": "1000.0", "面积": None, "在册": None, "备注": None, "编号": None},
        {"姓名": None, "年龄": None, "面积": None, "在册": "false", "备注": None, "编号": None},
    ]
    assert [source.line_of(i) for i in range(3)] == [1, 3, 5]  # JSONL has no header line


@pytest.mark.parametrize(
    ("data", "code", "row"),
    [
        ('{"姓名": "张三"}\n{"姓名": "李四", "性别": "男"}\n', "inconsistent_keys", 2),
        ('{"姓名": "张三"}\n\n{"姓名": ["李四"]}\n', "nested_value", 3),
        ('{"姓名": {"姓": "张"}}\n', "nested_value", 1),
        ('{"姓名": "张三"}\n{"姓名": "李四"\n', "invalid_json", 2),
        ('{"姓名": "张三"}\n["李四"]\n', "not_object", 2),
        ('{"面积": NaN}\n', "invalid_json", 1),
    ],
)
def test_jsonl_errors_name_the_line(data, code, row):
    with pytest.raises(ParseError) as err:
        parse(data.encode(), "x.jsonl")
    assert (err.value.code, err.value.row) == (code, row)
    assert f"第{row}行" in err.value.message


def test_jsonl_in_gb18030_and_with_bom():
    assert parse('{"姓名": "𠀀张"}\n'.encode("gb18030"), "x.jsonl")[1] == [{"姓名": "𠀀张"}]
    source, rows = parse('{"姓名": "张三"}\n'.encode("utf-8-sig"), "x.jsonl")
    assert (source.headers, rows) == (["姓名"], [{"姓名": "张三"}])


json_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(GBK_TEXT + ASCII_TEXT)
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={"a": json_values, "b": json_values, "c": json_values}), min_size=1
    )
)
def test_api_rows_convert_exactly_like_jsonl(rows):
    columns = ["a", "b", "c"]
    first = {c: None for c in columns} | rows[0]  # JSONL takes its headers from the first line
    lines = [json.dumps(first, ensure_ascii=False)] + [json.dumps(r, ensure_ascii=False) for r in rows[1:]]
    # the encoding is named: a lone "·" is two bytes GBK would read as 路 (see detect_encoding)
    data = ("\n".join(lines) + "\n").encode()
    from_file = [dict(row) for row in parse(data, "x.jsonl", encoding="utf-8")[1]]
    from_api = rows_to_batch([first, *rows[1:]], columns).to_pylist()
    assert from_file == [r for r in from_api if any(v is not None for v in r.values())]


def test_rows_to_batch_refuses_what_jsonl_refuses():
    batch = rows_to_batch([{"xm": "张三", "nl": 30}, {"xm": " "}], ["xm", "nl"])
    assert batch.schema.names == ["xm", "nl"]
    assert batch.to_pylist() == [{"xm": "张三", "nl": "30"}, {"xm": None, "nl": None}]
    for rows, code in (
        ([{"xm": "a", "dz": "b"}], "unknown_column"),
        ([{"xm": ["a"]}], "nested_value"),
        ([{"nl": float("nan")}], "invalid_json"),
    ):
        with pytest.raises(ParseError) as err:
            rows_to_batch(rows, ["xm", "nl"])
        assert (err.value.code, err.value.row) == (code, 1)


# ----------------------------------------------------------------------------------------------
# Headers → information items


ITEMS = [ItemRef("SFZH", "身份证号"), ItemRef("XM", "姓名"), ItemRef("XB", "性别"), ItemRef("ZZ", "住址")]


def test_map_headers_by_name_or_code():  # R-COL-13
    assert map_headers(["身份证号", "xm", " 性别* ", "住\u3000址"], ITEMS) == ["SFZH", "XM", "XB", "ZZ"]
    assert map_headers(["Sfzh", "姓名"], ITEMS) == ["SFZH", "XM"]  # a missing column is the validator's call


def test_map_headers_refusals():
    with pytest.raises(ParseError) as err:
        map_headers(["姓名", "电话"], ITEMS)
    assert err.value.code == "unknown_column"
    assert err.value.message == "列「电话」不是该资源的信息项，可用的列名为信息项名称或代码"
    with pytest.raises(ParseError) as err:
        map_headers(["姓名", "XM"], ITEMS)
    assert err.value.code == "duplicate_column"
    assert "姓名" in err.value.message and "XM" in err.value.message
    with pytest.raises(ParseError) as err:
        map_headers(["姓名", ""], ITEMS)
    assert (err.value.code, err.value.column) == ("empty_header", "2")


def test_headers_from_a_file_map_to_items():
    source, _ = parse("\ufeff身份证号*,XM\n431002199001011234,张三\n".encode())
    assert map_headers(source.headers, ITEMS) == ["SFZH", "XM"]
