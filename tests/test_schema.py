from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plabel.ingest import IngestOptions, ingest
from plabel.schema import table, tables, tables_markdown

REQUIRED = ["images", "rejects", "classes", "predictions", "embeddings", "duplicates",
            "manifests", "selections", "checkpoints", "runs", "evals"]
ROOT = Path(__file__).resolve().parents[1]


def test_every_required_table_is_defined():
    assert set(REQUIRED) <= set(tables())


@pytest.mark.parametrize("name", list(tables()))
def test_definition_is_complete(name):
    s = table(name)
    assert s.description and s.columns
    assert len(set(s.names)) == len(s.names)
    for c in s.columns:
        assert c.description, f"{name}.{c.name} has no description"
    schema = s.arrow_schema()
    assert s.partition not in schema.names
    if s.partition:
        assert s.partition in s.names


def test_float16_and_lists_map_to_arrow():
    emb = table("embeddings").arrow_schema()
    assert emb.field("embedding").type == pa.list_(pa.float16())
    assert table("predictions").arrow_schema().field("index").type == pa.list_(pa.int32())


def test_tables_doc_is_generated_from_schemas():
    doc = (ROOT / "docs" / "tables.md").read_text()
    assert doc == tables_markdown(), "docs/tables.md is stale: run `python -m plabel.docs`"


def check_table_files(ws):
    """Every Parquet file in the workspace matches its table's definition exactly."""
    seen = 0
    for s in tables().values():
        for f in ws.table_dir(s.name).rglob("*.parquet"):
            if ".staging" in f.parts:
                continue
            assert pq.read_schema(f).remove_metadata() == s.arrow_schema(), f
            seen += 1
    return seen


def test_written_files_match_definitions(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    assert check_table_files(ws) >= 4  # classes, images, aliases, rejects


def test_a_file_that_differs_from_its_definition_is_caught(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    part = next(ws.table_dir("images").glob("*.parquet"))
    t = pq.read_table(part).drop_columns(["mode"])
    pq.write_table(t, part)
    with pytest.raises(AssertionError):
        check_table_files(ws)
