"""Reading JSONL in blocks: every line once, with the number an editor shows, whatever the block size."""

from __future__ import annotations

import gzip
import zlib

import pytest

from promptloop.traces.reading import RecordError, block_lines, parse_line, read_blocks, read_lines, read_records

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


def test_a_truncated_gzip_gives_every_whole_line_before_the_damage(tmp_path):
    lines = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 200) for i in range(3000))
    data = gzip.compress(lines)
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    got: list[int] = []
    with pytest.raises(EOFError):
        for first, block in read_blocks(path, 1 << 20):  # the whole file fits in one block
            got += [n for n, _ in block_lines(first, block)]
    assert len(got) > 1000 and got == list(range(1, len(got) + 1))


def test_a_truncated_gzip_keeps_what_came_before_in_a_parallel_import(tmp_path):
    import json

    from promptloop.flows.ingest import import_files
    from promptloop.repo.config import load_config
    from promptloop.repo.scaffold import scaffold
    from promptloop.traces.store import TraceStore, store_path

    root = tmp_path / "repo"
    scaffold(root)
    rec = {"promptloop_trace": 1, "model": "m", "messages": [{"role": "user", "content": "hi " + "x" * 200}],
           "output": "ok"}
    data = gzip.compress("".join(json.dumps({**rec, "id": f"t{i}"}) + "\n" for i in range(3000)).encode())
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    before_damage = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes()).count(b"\n")
    summary = import_files(load_config(root), [path], workers=2, parallel_min=0, block_bytes=20_000)
    assert summary.files_failed == 1 and summary.imported == before_damage > 1000
    with TraceStore(store_path(load_config(root).cache_dir)) as store:
        assert {t.id for t in store.query()} == {f"promptloop:t{i}" for i in range(before_damage)}


def test_a_worker_reading_its_block_from_a_changed_file_says_so(tmp_path):
    """Workers read plain files' blocks themselves: a file rewritten under the import is an error, not
    other bytes parsed as if they were the block the writing process counted lines in."""
    from promptloop.traces.importer import work_range

    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n')
    with pytest.raises(OSError, match="changed while it was being imported"):
        work_range(str(path), 1, 9, 9, b'{"c": 3}\n')  # the block the writer saw held another line
    with pytest.raises(OSError, match="at byte 9"):
        work_range(str(path), 1, 9, 20, b"\n")  # the file is shorter than it was


def test_items_of_a_json_array_carry_the_line_they_start_on(tmp_path):


    f = tmp_path / "export.json"
    f.write_text('[\n  {"a": "x, ] {"},\n\n  {"b": [1, {"c": 2}]},\n  3, null,\n  "s"\n]\n')
    assert [line for line, _ in read_records(f)] == [2, 4, 5, 5, 6]
    assert [r for _, r in read_records(f)] == [{"a": "x, ] {"}, {"b": [1, {"c": 2}]}, 3, None, "s"]
