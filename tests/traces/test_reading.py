"""Reading JSONL in blocks: every line once, with the number an editor shows, whatever the block size."""

from __future__ import annotations

import gzip

import pytest

from promptloop.traces.reading import RecordError, block_lines, parse_line, read_blocks, read_lines

TEXT = b'{"a": 1}\n\n{"b": "' + b"x" * 50 + b'"}\r\n   \n{"c": 3}\n\xff\xfe\n{"d": 4}'


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize("gz", [False, True])
def test_blocks_give_the_lines_and_numbers_of_a_line_reader(tmp_path, size, gz):
    path = tmp_path / ("t.jsonl.gz" if gz else "t.jsonl")
    path.write_bytes(gzip.compress(TEXT) if gz else TEXT)
    from_blocks = [(n, parse_line(raw)) for first, data in read_blocks(path, size)
                   for n, raw in block_lines(first, data)]
    from_lines = [(n, parse_line(text)) for n, text in read_lines(path)]
    assert [n for n, _ in from_blocks] == [n for n, _ in from_lines] == [1, 3, 5, 6, 7]
    assert [r for _, r in from_blocks if not isinstance(r, RecordError)] == [{"a": 1}, {"b": "x" * 50}, {"c": 3},
                                                                            {"d": 4}]
    bad = from_blocks[3][1]
    assert isinstance(bad, RecordError) and "not UTF-8" in str(bad)


@pytest.mark.parametrize("text", [b'{"x": NaN}', b'{"x": 123456789012345678901234567890}', '{"x": "\\ud800"}'])
def test_lines_the_stricter_parser_refuses_still_read(text):
    record = parse_line(text)
    assert isinstance(record, dict) and "x" in record


def test_invalid_json_names_the_column():
    assert "column 7" in str(parse_line(b'{"a": }'))
