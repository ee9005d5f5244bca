"""The built wheel installs one import name, plabel, with the table definitions inside it."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("plabel-*.whl")
    return path


def test_wheel_holds_only_the_plabel_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"plabel", next(t for t in tops if t.endswith(".dist-info"))}
    assert "plabel/cli/app.py" in names and "plabel/schemas/images.toml" in names
    assert any(n.startswith("plabel/schemas/views/") and n.endswith(".sql") for n in names) or not list(
        (ROOT / "schemas" / "views").glob("*.sql")
    )
    assert not any(n.startswith(("cli/", "schemas/", "tests/")) for n in names)
    schema_files = {p.name for p in (ROOT / "schemas").glob("*.toml")}
    assert schema_files <= {Path(n).name for n in names if n.startswith("plabel/schemas/")}
    queries = {str(p.relative_to(ROOT / "schemas")) for p in (ROOT / "schemas" / "queries").glob("*/*.sql")}
    assert queries and queries <= {n.removeprefix("plabel/schemas/") for n in names}
    shipped = {  # plabel view's templates, styles, script and icon; the SQL cookbook
        str(p.relative_to(ROOT)) for p in [*(ROOT / "plabel" / "view" / "templates").glob("*.html"),
                                           *(ROOT / "plabel" / "view" / "static").glob("*")]}
    assert len(shipped) >= 10 and shipped <= set(names)
    cookbook = {f"plabel/schemas/cookbook/{p.name}" for p in (ROOT / "schemas" / "cookbook").glob("*.sql")}
    assert len(cookbook) >= 10 and cookbook <= set(names)


def test_installed_wheel_reads_its_schemas(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    code = ("import plabel.schema as s, plabel.cli.app, plabel.queries as q, plabel.cookbook as c; "
            "q.query('selection/stats'); assert len(c.recipes()) >= 10; print(len(s.tables()), s.__file__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    count, path = r.stdout.split()
    assert int(count) >= 11 and path.startswith(str(target))
    for bare in ("cli", "schemas"):
        r = subprocess.run([sys.executable, "-c", f"import {bare}"], capture_output=True, cwd=tmp_path,
                           env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
        assert r.returncode != 0, f"a bare `{bare}` module is importable"


def test_console_script_is_declared(wheel):
    entry = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "plabel = plabel.cli:main" in text


def test_the_cli_imports_no_torch():
    """`plabel --help` stays quick: the CLI reads its defaults from option modules without torch."""
    code = "import sys, plabel.cli.app; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
    # nor does what every command runs first (joining torchrun's group, when there is one)
    code = ("import sys; from plabel.cli._output import mute_other_ranks; mute_other_ranks(); "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_lazy_packages_name_what_they_export():
    import plabel.infer
    import plabel.train

    for package in (plabel.train, plabel.infer):
        for name in package.__all__:
            assert getattr(package, name) is not None
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018
