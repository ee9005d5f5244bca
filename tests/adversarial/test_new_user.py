"""What a new user tripped on: numbers wrapped in tables printed to a pipe, commands listed in no
order, per-class histograms in an arbitrary order, the withheld label in every pool path."""
import re
from pathlib import Path

from plabel.cli.app import ORDER
from plabel.cli.reference import command_names


def test_help_lists_the_commands_in_the_loops_order(cli):
    r = cli("--help")
    listed = re.findall(r"^  ([a-z-]+)  ", r.stdout[r.stdout.index("Commands:"):], re.M)
    assert listed == list(ORDER) == command_names()  # every command has its place


def test_a_table_printed_to_a_pipe_never_wraps_a_number(ws, cli):
    wide = ", ".join(f"'{'x' * 30}' AS c{k}" for k in range(6))
    r = cli("sql", f"SELECT 7.439e-05 AS small, 123456789012 AS big, {wide}", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert "7.439e-05" in r.stdout and "123456789012" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) > 80  # as wide as the table needs


def test_per_class_histograms_come_in_class_order(ws):
    from plabel.report import write_report
    from plabel.selection import SelectOptions, select

    select(ws, SelectOptions(round=0, threshold=0.3, balance="none"))  # selected counts differ per class
    html = Path(write_report(ws).path).read_text()
    block = html[html.index('id="plot-confidence-classes-0"'):]
    block = block[:block.index("</svg>")]
    titles = re.findall(r'<text[^>]*style="font-size: 8px[^"]*"[^>]*>([^<]*)</text>', block)
    assert titles == sorted(titles, key=ws.class_names().index) and len(titles) == len(ws.class_names())
