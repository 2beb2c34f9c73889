"""The import pipeline's Package script (assets/imports/package_model.py, ADR 0021).

The script runs as a SageMaker Processing job in AWS's scikit-learn image (Python 3.8/3.9,
network isolation), so it is run here as the job runs it, a subprocess (with this venv's
Python), and its functions are loaded from its file. The imported archives are built here with
tarfile and gzip: model files, folders, a code/ folder of their own, and every unsafe member.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests import python_code
from tests.python_code import imported_modules

SCRIPT = (
    Path(__file__).resolve().parents[1]
    / "constructs"
    / "mlops_constructs"
    / "assets"
    / "imports"
    / "package_model.py"
)
ERROR = "package_model.py: error: "


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("platform_package_model", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


package_model = _load()


# -- inputs --------------------------------------------------------------------------------------

Member = tuple[tarfile.TarInfo, bytes]


def regular(name: str, data: bytes = b"", mode: int = 0o644, mtime: int = 1_700_000_000) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    info.uid, info.gid, info.uname, info.gname = 1000, 1000, "ana", "staff"
    return info, data


def folder(name: str, mtime: int = 1_700_000_000) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o775, mtime
    return info, b""


def special(name: str, kind: bytes, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, b""


def tar_body(members: Sequence[Member]) -> bytes:
    """Headers and data without the end-of-archive marker."""
    out = bytearray()
    for info, data in members:
        out += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        out += data + b"\0" * (-len(data) % 512)
    return bytes(out)


def tar_bytes(members: Sequence[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def gz(data: bytes, mtime: int = 0) -> bytes:
    return gzip.compress(data, mtime=mtime)


WEIGHTS = bytes(range(256)) * 4000
MODEL_MEMBERS = [
    folder("."),
    regular("./model.joblib", WEIGHTS),
    folder("./preprocessing"),
    regular("./preprocessing/encoder.json", b'{"classes": ["a", "b"]}'),
    regular("./preprocessing/run.sh", b"#!/bin/sh\n", mode=0o700),
    folder("./code"),
    regular("./code/inference.py", b"print('the team's own code')\n"),
    regular("./code/requirements.txt", b"evil==1.0\n"),
]
SOURCE = {
    "inference.py": b"def model_fn(model_dir): ...\n",
    "demand/__init__.py": b"",
    "demand/features.py": b"FEATURES = ['store_size']\n",
    "demand/__pycache__/features.cpython-39.pyc": b"\x00compiled",
    "stale.pyc": b"\x00compiled",
    "requirements.txt": b"numpy\n",
}


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A processing job's folders: import/ (the archive), source/ (src/), model/ (empty)."""
    (tmp_path / "import").mkdir()
    (tmp_path / "import" / "model.tar.gz").write_bytes(gz(tar_bytes(MODEL_MEMBERS)))
    write_source(tmp_path / "source", SOURCE)
    return tmp_path


def write_source(root: Path, files: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run(job: Path, out: str = "model", *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--model-dir",
            str(job / "import"),
            "--source",
            str(job / "source"),
            "--out",
            str(job / out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def members(archive: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getmembers()


def contents(archive: Path) -> dict[str, bytes | None]:
    """Each member's bytes (None for a folder), by name."""
    found: dict[str, bytes | None] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isreg() else None
            found[info.name] = handle.read() if handle else None
    return found


# -- the output ----------------------------------------------------------------------------------


def test_the_output_holds_the_model_files_and_the_published_code(job):
    done = run(job)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    output = job / "model" / "model.tar.gz"
    assert sorted(os.listdir(job / "model")) == ["model.tar.gz"]
    assert sorted(os.listdir(job)) == ["import", "model", "source"]  # no scratch folder left
    assert contents(output) == {
        "code": None,
        "code/demand": None,
        "code/demand/__init__.py": b"",
        "code/demand/features.py": SOURCE["demand/features.py"],
        "code/inference.py": SOURCE["inference.py"],
        "model.joblib": WEIGHTS,
        "preprocessing": None,
        "preprocessing/encoder.json": b'{"classes": ["a", "b"]}',
        "preprocessing/run.sh": b"#!/bin/sh\n",
    }
    [line] = done.stdout.splitlines()
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    assert line == (
        f"package_model.py: wrote {output} (sha256 {digest}, {output.stat().st_size} bytes): "
        f"4 members kept, 3 code files added from {job / 'source'}, 3 code/ members dropped"
    )


def test_the_members_are_sorted_and_normalized(job):
    assert run(job).returncode == 0
    infos = members(job / "model" / "model.tar.gz")

    names = [info.name for info in infos]
    assert names == sorted(names)
    for info in infos:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")
        assert info.isdir() or info.isreg()
        assert not info.name.startswith(("/", "./"))
        expected = 0o755 if info.isdir() or info.name.endswith("run.sh") else 0o644
        assert info.mode == expected, info.name
    raw = (job / "model" / "model.tar.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert raw[3] & 0x08 == 0  # no file name in the gzip header


def test_the_archives_own_code_is_replaced(job):
    assert run(job).returncode == 0
    found = contents(job / "model" / "model.tar.gz")

    code = {name for name in found if name == "code" or name.startswith("code/")}
    kept = [name for name in SOURCE if not name.endswith(".pyc") and name != "requirements.txt"]
    assert code == {f"code/{name}" for name in kept} | {
        "code",
        "code/demand",
    }
    assert found["code/inference.py"] == SOURCE["inference.py"]
    # Neither the archive's requirements nor the source's: serving would pip-install them.
    assert "code/requirements.txt" not in found


def test_an_executable_source_file_stays_executable(job):
    (job / "source" / "serve").write_bytes(b"#!/bin/sh\n")
    (job / "source" / "serve").chmod(0o750)

    assert run(job).returncode == 0

    modes = {info.name: info.mode for info in members(job / "model" / "model.tar.gz")}
    assert modes["code/serve"] == 0o755
    assert modes["code/inference.py"] == 0o644


def test_the_same_inputs_give_the_same_bytes(job):
    assert run(job, "first").returncode == 0
    assert run(job, "second").returncode == 0

    first = (job / "first" / "model.tar.gz").read_bytes()
    assert first == (job / "second" / "model.tar.gz").read_bytes()


def test_the_output_does_not_depend_on_the_archives_order_times_owners_or_format(job, tmp_path):
    assert run(job, "first").returncode == 0
    shuffled = [MODEL_MEMBERS[i] for i in (7, 1, 3, 5, 2, 0, 4, 6)]
    for info, _ in shuffled:
        info.mtime, info.uid, info.uname = 42, 7, "someone"
    other = gz(tar_bytes(shuffled, fmt=tarfile.GNU_FORMAT), mtime=1_234_567)
    (job / "import" / "model.tar.gz").write_bytes(other)
    os.utime(job / "source" / "inference.py", (1, 1))

    assert run(job, "second").returncode == 0

    first = (job / "first" / "model.tar.gz").read_bytes()
    assert first == (job / "second" / "model.tar.gz").read_bytes()


def test_files_without_folder_entries_get_their_folders(job):
    archive = gz(tar_bytes([regular("weights/layer1/w.bin", b"1"), regular("model.json", b"{}")]))
    (job / "import" / "model.tar.gz").write_bytes(archive)

    assert run(job).returncode == 0

    names = [info.name for info in members(job / "model" / "model.tar.gz")]
    assert names[-4:] == ["model.json", "weights", "weights/layer1", "weights/layer1/w.bin"]


def test_the_function_packages_in_process(job):
    summary = package_model.package(str(job / "import"), str(job / "source"), str(job / "model"))

    assert summary.output == str(job / "model" / "model.tar.gz")
    assert (summary.kept, summary.added, summary.dropped) == (4, 3, 3)
    assert summary.sha256 == hashlib.sha256(Path(summary.output).read_bytes()).hexdigest()


def test_main_answers_0_and_one_line(job, capsys):
    argv = ["--model-dir", str(job / "import"), "--source", str(job / "source")]
    assert package_model.main([*argv, "--out", str(job / "model")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert err == ""


# -- refusals ------------------------------------------------------------------------------------


def _archive(job: Path, data: bytes) -> None:
    (job / "import" / "model.tar.gz").write_bytes(data)


REFUSED_ARCHIVES = [
    pytest.param(b"PK\x03\x04zip", "is not gzip-compressed", id="zip"),
    pytest.param(b"", "is not gzip-compressed", id="empty-file"),
    pytest.param(tar_bytes([regular("m.bin", b"1")]), "is not gzip-compressed", id="plain-tar"),
    pytest.param(gz(b"hello\n" * 100), "is gzip-compressed but not a tar", id="gzip-not-tar"),
    pytest.param(gz(tar_bytes(MODEL_MEMBERS))[:-8], "is cut short", id="no-gzip-trailer"),
    pytest.param(gz(tar_bytes(MODEL_MEMBERS))[:500], "is cut short", id="truncated-gzip"),
    pytest.param(
        gz(tar_body([regular("m.bin", b"x" * 1000), regular("n.bin")])[:1200]),
        "is cut short (unexpected end of data)",
        id="truncated-member",
    ),
    pytest.param(
        gz(tar_body([regular("m.bin", b"1")])), "is cut short (no end-of-archive", id="no-end"
    ),
    pytest.param(
        gz(tar_body([regular("m.bin", b"1")]) + bytes(range(256)) * 2 + b"\0" * 1024),
        "is damaged after its last member",
        id="garbage-header",
    ),
    pytest.param(
        gz(tar_bytes([regular("/etc/cron.d/m", b"1"), regular("m.bin", b"1")])),
        "holds '/etc/cron.d/m', an absolute path",
        id="absolute",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), regular("../evil.py", b"1")])),
        "holds '../evil.py', a path leaving the archive's root with ..",
        id="dotdot",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), special("l", tarfile.SYMTYPE, "/etc/shadow")])),
        "holds 'l', a symbolic link",
        id="symlink",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), special("h", tarfile.LNKTYPE, "m.bin")])),
        "holds 'h', a hard link",
        id="hardlink",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), special("d", tarfile.CHRTYPE)])),
        "holds 'd', a device",
        id="device",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), special("p", tarfile.FIFOTYPE)])),
        "holds 'p', a named pipe",
        id="fifo",
    ),
    pytest.param(
        gz(tar_bytes([folder("code"), regular("code/inference.py", b"1")])),
        "holds no model file outside its code/ folder",
        id="only-code",
    ),
    pytest.param(gz(b"\0" * 10240), "holds no model file", id="no-members"),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), regular("./m.bin", b"2")])),
        "holds 'm.bin' twice",
        id="duplicate",
    ),
    pytest.param(
        gz(tar_bytes([regular("m.bin", b"1"), regular("code", b"2")])),
        "holds a file named code at its top level",
        id="code-file",
    ),
    pytest.param(
        gz(tar_bytes([regular("a", b"1"), regular("a/b", b"2")])),
        "'a' is both a file and a folder",
        id="file-and-folder",
    ),
]


def _assert_refused(done: subprocess.CompletedProcess[str], expected: str, job: Path) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(ERROR)
    assert expected in line, line
    assert not (job / "model" / "model.tar.gz").exists()
    assert not [name for name in os.listdir(job) if name.startswith(".package-")]


@pytest.mark.parametrize(("data", "expected"), REFUSED_ARCHIVES)
def test_an_unusable_archive_is_refused(job, data, expected):
    _archive(job, data)
    _assert_refused(run(job), expected, job)


def test_an_empty_model_folder_is_refused(job):
    (job / "import" / "model.tar.gz").unlink()
    _assert_refused(run(job), "holds no file: the imported model archive is missing", job)


def test_several_files_in_the_model_folder_are_refused(job):
    (job / "import" / "model.tar.gz.old").write_bytes(b"x")
    _assert_refused(run(job), "holds 2 entries (model.tar.gz, model.tar.gz.old)", job)


def test_a_folder_in_the_model_folder_is_refused(job):
    (job / "import" / "model.tar.gz").unlink()
    (job / "import" / "model").mkdir()
    _assert_refused(run(job), "is not a regular file", job)


def test_a_missing_model_folder_is_refused(job):
    (job / "import" / "model.tar.gz").unlink()
    (job / "import").rmdir()
    _assert_refused(run(job), "does not exist", job)


def test_an_empty_source_is_refused(job, tmp_path):
    for path in sorted((job / "source").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    _assert_refused(run(job), "holds no file: the project's published code is missing", job)


def test_a_source_of_compiled_files_only_is_refused(job):
    for path in sorted((job / "source").rglob("*"), reverse=True):
        if path.is_file() and path.suffix != ".pyc":
            path.unlink()
    _assert_refused(run(job), "holds no file", job)


def test_a_missing_source_is_refused(job):
    _assert_refused(run(job, "model", "--source", str(job / "nowhere")), "does not exist", job)


def test_a_link_in_the_source_is_refused(job):
    (job / "source" / "link.py").symlink_to(job / "source" / "inference.py")
    _assert_refused(run(job), "holds the symbolic link", job)


def test_a_missing_option_is_refused_on_one_line(job):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--model-dir", str(job / "import")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _assert_refused(done, "the following arguments are required: --source, --out", job)


def test_refusals_in_process(job):
    _archive(job, gz(tar_bytes([regular("m.bin", b"1"), special("l", tarfile.SYMTYPE, "x")])))
    with pytest.raises(package_model.Refused, match="a symbolic link"):
        package_model.package(str(job / "import"), str(job / "source"), str(job / "model"))
    assert not (job / "model" / "model.tar.gz").exists()


@pytest.mark.parametrize(
    ("name", "kind", "problem"),
    [
        ("m\0.bin", tarfile.REGTYPE, "a NUL character in its name"),
        ("/abs", tarfile.REGTYPE, "an absolute path"),
        ("a/../b", tarfile.REGTYPE, "a path leaving the archive's root with .."),
        ("l", tarfile.SYMTYPE, "a symbolic link"),
        ("l", tarfile.LNKTYPE, "a hard link"),
        ("b", tarfile.BLKTYPE, "a device"),
        ("x", b"V", "a member of tar type b'V', neither a regular file nor a folder"),
        (".", tarfile.REGTYPE, "a file without a name"),
        (".", tarfile.DIRTYPE, None),
        ("a..b/c", tarfile.REGTYPE, None),
    ],
)
def test_member_problems(name, kind, problem):
    info = tarfile.TarInfo(name)
    info.type = kind
    assert package_model.member_problem(info) == problem


# -- it runs in the processing image: Python 3.8 grammar and API, the standard library only ------

# Standard-library names newer than the image's Python 3.8, besides what
# tests.python_code.py38_problems knows.
STDLIB_ATTRIBUTES = {"file_digest", "readlink", "data_filter", "extraction_filter"}


def py38_problems(source: str) -> Iterator[str]:
    """What in ``source`` the processing image's Python 3.8 cannot run."""
    return python_code.py38_problems(source, newer_attributes=STDLIB_ATTRIBUTES)


def test_the_script_is_python_3_8_code():
    assert list(py38_problems(SCRIPT.read_text(encoding="utf-8"))) == []


def test_the_compatibility_check_finds_what_it_looks_for():
    bad = (
        "import json\n"
        "from typing import TypeAlias\n"
        "X = dict[str, int]\n"
        "zip([], [], strict=True)\n"
        "isinstance(1, int | float)\n"
        "'a'.removeprefix('b')\n"
        "def f(x: list[int]) -> dict[str, int]: ...\n"
    )
    assert len(list(py38_problems(bad))) == 6  # the annotations of f are fine
    assert list(py38_problems("from __future__ import annotations\nwith (a as b, c as d): pass\n"))


def test_the_script_imports_the_standard_library_only():
    assert imported_modules(SCRIPT.read_text(encoding="utf-8")) <= set(sys.stdlib_module_names)


def test_the_archive_the_check_read_is_packaged(job):
    digest = hashlib.sha256((job / "import" / "model.tar.gz").read_bytes()).hexdigest()
    done = run(job, "model", "--expected-sha256", digest)
    assert done.returncode == 0, done.stderr


def test_an_archive_replaced_after_the_check_is_refused(job):
    _assert_refused(
        run(job, "model", "--expected-sha256", "0" * 64),
        "model.tar.gz is not the archive the import check read (its SHA-256 is not "
        + "0" * 64
        + "): it was replaced after the check; import it again",
        job,
    )
