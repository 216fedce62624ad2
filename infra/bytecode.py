"""``make package``'s second step: bytecode for Lambda's CPython 3.11 in the deployment zip, rewritten deterministically.

Lambda unpacks the zip into a read-only /var/task, so a package without bytecode is compiled
from source on every cold start and the result thrown away. This step compiles every ``.py`` in
the zip into ``__pycache__/<name>.cpython-311.pyc`` next to it, as *unchecked hash-based* .pyc
(PEP 552): the interpreter loads them without looking at the source's mtime or hash, so neither
the zip's fixed 1980 timestamps nor the mtimes Lambda gives the unpacked files can make it
recompile. The build must run the Lambda's Python (3.11): the .pyc format and magic number are
per minor version, and a 3.12 .pyc would be ignored (and the source compiled) on Lambda.

It also leaves out what the Lambda runtime provides (``RUNTIME_PROVIDED``: botocore, whose
boto3 the runtime pairs with it; see the README's "Cold start" note for the measurement behind
that), drops any bytecode already in the zip, and writes the entries sorted by name with one
timestamp and normalised permissions, so the same sources always give the same zip bytes.

Usage: python infra/bytecode.py ZIP [--keep-botocore]   (ZIP is rewritten in place)
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PYTHON = (3, 11)
CACHE_TAG = "cpython-311"
RUNTIME_PROVIDED = ("botocore",)  # top-level packages the python3.11 runtime ships (with boto3)
DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, do not check the source


class BytecodeError(Exception):
    """Why the zip cannot be given bytecode, in a sentence for the deployer."""


@dataclass(frozen=True)
class Result:
    """What the step did to the zip."""

    compiled: int
    dropped: int
    size_before: int
    size_after: int


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:2])) -> None:
    """Refuse to compile with any interpreter but the Lambda's (its .pyc would be ignored there)."""
    if tuple(version[:2]) != PYTHON or sys.implementation.cache_tag != CACHE_TAG:
        raise BytecodeError(
            f"the Lambda runs CPython {PYTHON[0]}.{PYTHON[1]}; this is {sys.implementation.name} "
            f"{'.'.join(map(str, version[:3]))} ({sys.implementation.cache_tag}), whose bytecode Lambda would ignore."
        )


def pyc_name(source: str) -> str:
    """``pkg/mod.py`` -> ``pkg/__pycache__/mod.cpython-311.pyc`` (the path the import system looks for)."""
    folder, _, name = source.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{CACHE_TAG}.pyc"


def compile_source(source: bytes, name: str) -> bytes:
    """An unchecked hash-based .pyc of ``source`` (as ``py_compile`` with ``UNCHECKED_HASH`` writes it)."""
    code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + UNCHECKED_HASH.to_bytes(4, "little") + importlib.util.source_hash(source)
    return header + marshal.dumps(code)


def provided_by_runtime(name: str, packages: tuple[str, ...]) -> bool:
    """Whether the entry belongs to one of ``packages`` (the package or its dist-info)."""
    top = name.split("/", 1)[0]
    return any(top == package or (top.startswith(f"{package}-") and top.endswith(".dist-info")) for package in packages)


def is_bytecode(name: str) -> bool:
    """Bytecode already in the zip (any interpreter's): replaced by this step's own."""
    return name.endswith((".pyc", ".pyo")) or "/__pycache__/" in f"/{name}"


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    """A zip entry with the fixed timestamp and a normalised regular-file mode."""
    info = zipfile.ZipInfo(name, date_time=DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below is honoured when unpacked
    info.external_attr = (EXECUTABLE_MODE if mode & 0o111 else FILE_MODE) << 16
    return info


def add_bytecode(path: Path, exclude: tuple[str, ...] = RUNTIME_PROVIDED) -> Result:
    """Rewrite the zip at ``path``: without ``exclude`` and old bytecode, with a .pyc for every .py, sorted."""
    check_python()
    size_before, zip_mode = path.stat().st_size, path.stat().st_mode & 0o777
    files: dict[str, tuple[bytes, int]] = {}
    dropped = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if is_bytecode(info.filename) or provided_by_runtime(info.filename, exclude):
                dropped += 1
                continue
            files[info.filename] = (archive.read(info), info.external_attr >> 16)
    failures: list[str] = []
    sources = [name for name in files if name.endswith(".py")]
    for name in sources:
        try:
            files[pyc_name(name)] = (compile_source(files[name][0], name), FILE_MODE)
        except (SyntaxError, ValueError) as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise BytecodeError("some sources do not compile for CPython 3.11:\n  " + "\n  ".join(failures))
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".zip")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in sorted(files):
                data, mode = files[name]
                archive.writestr(entry(name, mode), data)
        os.chmod(temporary, zip_mode)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return Result(compiled=len(sources), dropped=dropped, size_before=size_before, size_after=path.stat().st_size)


def main(argv: list[str]) -> int:
    """The command line: ``ZIP [--keep-botocore]``."""
    if len(argv) not in (1, 2) or (len(argv) == 2 and argv[1] != "--keep-botocore"):
        print("usage: python infra/bytecode.py ZIP [--keep-botocore]", file=sys.stderr)
        return 2
    path = Path(argv[0])
    exclude = () if "--keep-botocore" in argv else RUNTIME_PROVIDED
    try:
        if not path.is_file():
            raise BytecodeError(f"there is no {path} (run `make package` first).")
        result = add_bytecode(path, exclude)
    except (BytecodeError, zipfile.BadZipFile) as error:
        print(f"make package: {error}", file=sys.stderr)
        return 1
    left_out = f"; left out {', '.join(exclude)} (the runtime's)" if exclude else ""
    print(
        f"Compiled {result.compiled} sources for CPython 3.11 into {path}{left_out}: "
        f"{result.size_before / 1e6:.1f} MB -> {result.size_after / 1e6:.1f} MB."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
