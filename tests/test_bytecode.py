"""The deployment zip as Lambda receives it: bytecode for CPython 3.11 for every source, nothing recompiled.

``make package`` runs infra/package.py, then infra/bytecode.py on the zip. Here both run once into
a temporary directory (never over build/, which other work may be using); the zip is then read
as Lambda would unpack it into /var/task, and ``import app`` is run from it in a fresh
interpreter that sees only the package, the standard library and (for botocore, which the zip
leaves to the runtime) a directory standing in for the runtime's copies.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))
import bytecode  # noqa: E402  (infra/ is not a package)

RUNTIME = ("boto3", "botocore", "s3transfer")  # what the python3.11 runtime adds to the package's own


def read_pyc(data: bytes) -> tuple[bytes, int, bytes, object]:
    """A .pyc's magic number, flags, source hash and code object."""
    return data[:4], int.from_bytes(data[4:8], "little"), data[8:16], marshal.loads(data[16:])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Path:
    """``make package STAGE=dev`` into a temporary directory: the deployment zip with its bytecode."""
    out = tmp_path_factory.mktemp("package") / "dev"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL") and k != "CORS_ALLOW_ORIGIN"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    for command in (["infra/package.py", "dev", str(out)], ["infra/bytecode.py", str(out / "deployment.zip")]):
        done = subprocess.run(
            [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return out / "deployment.zip"


@pytest.fixture(scope="module")
def unpacked(deployment: Path, tmp_path_factory) -> tuple[Path, Path]:
    """The zip unpacked (as /var/task) and a stand-in for the runtime's boto3 and botocore (this venv's, linked)."""
    task, runtime = tmp_path_factory.mktemp("task"), tmp_path_factory.mktemp("runtime")
    with zipfile.ZipFile(deployment) as archive:
        archive.extractall(task)
    site = Path(importlib.util.find_spec("botocore").origin).parent.parent
    for name in RUNTIME:
        (runtime / name).symlink_to(site / name)
    return task, runtime


def test_every_source_in_the_zip_has_a_valid_unchecked_cpython_311_pyc(deployment: Path):
    with zipfile.ZipFile(deployment) as archive:
        names = set(archive.namelist())
        sources = sorted(name for name in names if name.endswith(".py"))
        assert "app.py" in sources and "chalicelib/entrypoints/http/schemas/__init__.py" in sources
        for source in sources:
            pyc = bytecode.pyc_name(source)
            assert pyc in names, f"{source} has no {pyc}"
            magic, flags, source_hash, code = read_pyc(archive.read(pyc))
            assert magic == importlib.util.MAGIC_NUMBER, pyc
            assert flags == 0b01, f"{pyc} is not an unchecked hash-based .pyc"
            assert source_hash == importlib.util.source_hash(archive.read(source)), f"{pyc} is of another {source}"
            assert code.co_filename == source
        assert not [name for name in names if name.endswith(".pyc") and ".cpython-311." not in name]


def test_the_zip_leaves_botocore_to_the_runtime(deployment: Path):
    with zipfile.ZipFile(deployment) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert not [top for top in tops if top == "botocore" or top.startswith("botocore-")]
    assert {"pynamodb", "chalicelib", "app.py", "chalice"} <= tops


def test_import_app_from_the_unpacked_zip_reads_bytecode_and_writes_none(unpacked: tuple[Path, Path]):
    task, runtime = unpacked
    before = {path: path.stat().st_mtime_ns for path in task.rglob("*")}
    script = (
        f"import sys; sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]\n"
        "import app, chalicelib.entrypoints.http.schemas, chalicelib.adapters.dynamo.models\n"
        "print(sorted(m.__cached__ for m in list(sys.modules.values()) if getattr(m, '__cached__', None)))"
    )
    env = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(task)}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-v", "-c", script], cwd=task, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # -v names where each module's code came from, and every .pyc the interpreter wrote or failed to write
    loaded = re.findall(r"^# code object from '?([^'\n]+)'?$", done.stderr, re.M)
    from_package = [path for path in loaded if path.startswith(str(task))]
    assert len(from_package) > 100
    assert all(path.endswith(".cpython-311.pyc") for path in from_package), [
        path for path in from_package if not path.endswith(".pyc")
    ]
    assert not re.findall(rf"^# (?:wrote|could not create) '?{re.escape(str(task))}", done.stderr, re.M)
    assert {path: path.stat().st_mtime_ns for path in task.rglob("*")} == before  # nothing new, nothing rewritten


def test_rewriting_is_deterministic_drops_old_bytecode_and_runtime_packages(tmp_path: Path):
    def make(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(zipfile.ZipInfo("top.py", (2026, 12, 1, 10, 0, 0)), "X = 1\n")
            archive.writestr("pkg/__init__.py", "")
            archive.writestr("pkg/mod.py", "def f():\n    return 'π'\n")
            archive.writestr("pkg/__pycache__/mod.cpython-312.pyc", b"stale")
            archive.writestr("pkg/data.json", "{}")
            archive.writestr("botocore/__init__.py", "")
            archive.writestr("botocore-1.44.8.dist-info/METADATA", "")

    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    make(first)
    make(second)
    result = bytecode.add_bytecode(first)
    bytecode.add_bytecode(second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert set(names) == {
            "__pycache__/top.cpython-311.pyc",
            "pkg/__init__.py",
            "pkg/__pycache__/__init__.cpython-311.pyc",
            "pkg/__pycache__/mod.cpython-311.pyc",
            "pkg/data.json",
            "pkg/mod.py",
            "top.py",
        }
        assert {info.date_time for info in infos} == {bytecode.DATE_TIME}
        namespace: dict = {}
        exec(read_pyc(archive.read("pkg/__pycache__/mod.cpython-311.pyc"))[3], namespace)
        assert namespace["f"]() == "π"
    assert (result.compiled, result.dropped) == (3, 3)
    bytecode.add_bytecode(first)  # again: its own bytecode is replaced, not doubled
    assert first.read_bytes() == second.read_bytes()


def test_a_source_that_does_not_compile_fails_the_step(tmp_path: Path):
    path = tmp_path / "broken.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bad.py", "def (:\n")
    with pytest.raises(bytecode.BytecodeError, match=r"bad\.py"):
        bytecode.add_bytecode(path)


def test_only_the_lambdas_python_may_compile():
    bytecode.check_python((3, 11, 7))
    with pytest.raises(bytecode.BytecodeError, match=r"3\.11"):
        bytecode.check_python((3, 12, 1))
    assert bytecode.main(["/no/such.zip"]) == 1
