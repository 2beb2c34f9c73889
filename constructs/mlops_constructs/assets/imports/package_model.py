"""Package an imported model with the project's published code (ADR 0021, the ``Package`` step).

The import pipeline runs this script as a SageMaker Processing job in AWS's scikit-learn image
(Python 3.8/3.9) with network isolation: it reads local files, writes one local file, calls no
AWS API and imports only the standard library (the code stays Python 3.8-compatible;
tests/test_package_model.py checks it)::

    python3 package_model.py --model-dir /opt/ml/processing/import \\
        --source /opt/ml/processing/source --out /opt/ml/processing/model

- ``--model-dir`` holds exactly one file: the imported archive (the ``CheckImport`` step's
  ``model_uri``), a gzip-compressed tar. The check already validated it; it is verified again
  here (the object could have been replaced since).
- ``--source`` is the project's published ``src/`` (the code version the pipeline runs).
- ``--out`` receives ``model.tar.gz`` and nothing else: every member of the imported archive
  except a top-level ``code/`` folder (dropped: only the project's reviewed code serves), plus
  ``code/``, the contents of ``--source`` (recursively, without ``__pycache__`` folders and
  ``*.pyc`` files), so that SageMaker serving finds ``code/<inference entry>``
  (``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``).

The output is deterministic: the same inputs give the same bytes. Members are sorted by name
(a folder before what it holds), every folder a member of its own (the archive's and each
file's parents), names without ``./``; mtime 0, uid and gid 0, no user or group name, modes
0755 for folders and files with an execute bit, else 0644; PAX format; gzip level 6 without
file name and with mtime 0.

The archive is read once, as a stream (``gzip``: CRC and length checked; ``tarfile`` in stream
mode ``r|``): each regular member's bytes go to a numbered file in a scratch folder next to
``--out`` (never to a path the archive names, so no member can write outside it), then the
output is written from those in sorted order and the scratch folder removed.

Refused with exit status 2 and one line on stderr (``package_model.py: error: ...``): no file
or several in the model folder; an unreadable archive (not gzip, not tar, cut short, damaged,
no end-of-archive marker); an unsafe member (a NUL in its name, absolute, a ``..`` component, a
symbolic or hard link, a device, a named pipe, any other type but regular files and folders);
a name twice (``./a`` is ``a``), a file named ``code`` at the top level, a name that is both a
file and a folder; no model file outside ``code/``; a source folder that is missing, holds a
symbolic link or no file. On success one summary line on stdout: the output's SHA-256 and
size, the members kept, the code files added and the ``code/`` members dropped.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "package_model.py"
OUTPUT = "model.tar.gz"
CODE = "code"  # the serving code's folder at the archive's top level
SKIPPED_FOLDERS = ("__pycache__",)
SKIPPED_SUFFIXES = (".pyc",)
# A top-level code/requirements.txt would be pip-installed by the serving container at start.
SKIPPED_TOP_FILES = ("requirements.txt",)
CHUNK = 1024 * 1024
TAR_END = 1024  # the end-of-archive marker: two 512-byte zero blocks
FOLDER_MODE = 0o755
EXECUTABLE_MODE = 0o755
FILE_MODE = 0o644
GZIP_LEVEL = 6
FILE = "file"
FOLDER = "folder"


class Refused(Exception):
    """An input this script cannot package; the message says why (one line)."""


@dataclass(frozen=True)
class Entry:
    """A member of the output: its name, kind, mode and, for a file, where its bytes are."""

    name: str
    kind: str  # FILE or FOLDER
    mode: int
    path: str = ""  # a FILE's bytes (a scratch copy, or the source file)
    size: int = 0


@dataclass(frozen=True)
class Summary:
    output: str
    sha256: str
    size: int
    kept: int  # members of the imported archive kept
    added: int  # code files added from the source
    dropped: int  # members of the archive's own code/ folder dropped


# ---------------------------------------------------------------------------------------------
# the imported archive


def model_archive(model_dir: str) -> str:
    """The one file of the model folder; refuses none, several, or anything but a file."""
    if not os.path.isdir(model_dir):
        raise Refused(f"the model folder {model_dir} does not exist")
    names = sorted(os.listdir(model_dir))
    if not names:
        raise Refused(
            f"the model folder {model_dir} holds no file: the imported model archive is missing"
        )
    if len(names) > 1:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise Refused(
            f"the model folder {model_dir} holds {len(names)} entries ({shown}): expected the "
            "imported model archive alone"
        )
    path = os.path.join(model_dir, names[0])
    if os.path.islink(path) or not os.path.isfile(path):
        raise Refused(f"{path} is not a regular file: expected the imported model archive")
    return path


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why a member is not safe to package, or None."""
    name = member.name
    if "\0" in name:
        return "a NUL character in its name"
    if name.startswith("/"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a path leaving the archive's root with .."
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a named pipe"
    if not (member.isreg() or member.isdir()):
        return f"a member of tar type {member.type!r}, neither a regular file nor a folder"
    if not _parts(name) and not member.isdir():
        return "a file without a name"
    return None


class _Tail:
    """The decompressed tar stream, counting the bytes read and where the last non-NUL byte
    was: after the last member a complete archive holds only NUL bytes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.position = 0
        self.nonzero_end = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        if data:
            kept = len(data.rstrip(b"\0"))
            if kept:
                self.nonzero_end = self.position + kept
            self.position += len(data)
        return data


def _mode(mode: int) -> int:
    return EXECUTABLE_MODE if mode & 0o111 else FILE_MODE


def _unreadable(path: str, error: BaseException) -> Refused:
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head != b"\x1f\x8b":
        return Refused(f"the model archive {path} is not gzip-compressed (a gzip-compressed tar)")
    message = str(error) or type(error).__name__
    if isinstance(error, EOFError) or message == "unexpected end of data":
        return Refused(f"the model archive {path} is cut short ({message})")
    if isinstance(error, tarfile.ReadError) and not message.startswith("zlib error"):
        return Refused(f"the model archive {path} is gzip-compressed but not a tar ({message})")
    return Refused(f"the model archive {path} is damaged ({message})")


def read_archive(path: str, scratch: str) -> tuple[list[Entry], int]:
    """The archive's members to keep (each regular file's bytes copied to a numbered file in
    ``scratch``) and the number of its ``code/`` members dropped; refuses an unreadable or
    unsafe archive, or one without a model file outside ``code/``."""
    entries: list[Entry] = []
    dropped = 0
    end = 0
    with open(path, "rb") as raw:
        tail = _Tail(gzip.GzipFile(fileobj=raw, mode="rb"))
        try:
            with tarfile.open(fileobj=cast("IO[bytes]", tail), mode="r|") as tar:
                entries, dropped = _read_members(tar, path, scratch)
                end = tar.offset
            while tail.read(CHUNK):
                pass  # the rest of the tar stream, and the gzip trailer (CRC, length)
        except Refused:
            raise
        except (tarfile.ReadError, OSError, zlib.error, EOFError) as error:
            if isinstance(error, OSError) and not isinstance(error, gzip.BadGzipFile):
                raise  # a disk's error, not the archive's
            raise _unreadable(path, error) from None
    _check_complete(path, tail, end, entries)
    return entries, dropped


def _read_members(tar: tarfile.TarFile, path: str, scratch: str) -> tuple[list[Entry], int]:
    """Reads the tar stream's members in order: refuses an unsafe or repeated one, drops
    ``code/``'s, keeps the others (copying each regular file into ``scratch``)."""
    entries: list[Entry] = []
    names: set[str] = set()
    dropped = 0
    while True:
        member = tar.next()
        if member is None:
            break
        cast(Any, tar).members = []  # a stream: nothing is looked up again
        problem = member_problem(member)
        if problem is not None:
            raise Refused(f"the model archive {path} holds {member.name!r}, {problem}")
        parts = _parts(member.name)
        if not parts:
            continue  # the archive's root folder ("./")
        name = "/".join(parts)
        if name in names:
            raise Refused(f"the model archive {path} holds {name!r} twice")
        names.add(name)
        if parts[0] == CODE:
            if len(parts) == 1 and member.isreg():
                raise Refused(
                    f"the model archive {path} holds a file named {CODE} at its top "
                    f"level, where the serving code's {CODE}/ folder goes"
                )
            dropped += 1
            continue
        entries.append(_keep(tar, member, name, path, os.path.join(scratch, str(len(entries)))))
    return entries, dropped


def _keep(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, path: str, copy: str) -> Entry:
    """The entry of a kept member: a folder, or a regular file whose bytes are copied to
    ``copy``."""
    if member.isdir():
        return Entry(name, FOLDER, FOLDER_MODE)
    source = tar.extractfile(member)
    if source is None:  # never for a regular file
        raise Refused(f"the model archive {path}: {name!r} has no data")
    with source, open(copy, "wb") as target:
        shutil.copyfileobj(source, target, CHUNK)
    return Entry(name, FILE, _mode(member.mode), copy, member.size)


def _check_complete(path: str, tail: _Tail, end: int, entries: list[Entry]) -> None:
    """Checks the stream after the last member (NUL bytes only, the end-of-archive marker
    whole) and that a model file is kept."""
    if tail.nonzero_end > end:
        raise Refused(
            f"the model archive {path} is damaged after its last member (an invalid tar header "
            f"at byte {end} of the tar stream)"
        )
    if tail.position < end + TAR_END:
        raise Refused(f"the model archive {path} is cut short (no end-of-archive marker)")
    if not any(entry.kind == FILE for entry in entries):
        raise Refused(f"the model archive {path} holds no model file outside its {CODE}/ folder")


# ---------------------------------------------------------------------------------------------
# the project's code


def source_entries(source: str) -> list[Entry]:
    """``code/`` and the source folder's files and folders under it, without ``__pycache__``
    folders, ``*.pyc`` files and a top-level ``requirements.txt`` (AWS's serving containers
    pip-install ``code/requirements.txt`` at start, which network isolation refuses); refuses a
    missing folder, a symbolic link or no file."""
    if not os.path.isdir(source):
        raise Refused(f"the source folder {source} does not exist")
    entries = [Entry(CODE, FOLDER, FOLDER_MODE)]
    for folder, folders, files in os.walk(source):
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS)
        relative = os.path.relpath(folder, source).replace(os.sep, "/")
        prefix = CODE if relative == "." else f"{CODE}/{relative}"
        for name in folders:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                raise Refused(f"the source folder holds the symbolic link {path}")
            entries.append(Entry(f"{prefix}/{name}", FOLDER, FOLDER_MODE))
        for name in sorted(files):
            if name.endswith(SKIPPED_SUFFIXES) or (relative == "." and name in SKIPPED_TOP_FILES):
                continue
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                raise Refused(f"the source folder holds the symbolic link {path}")
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"the source folder holds {path}, which is not a regular file")
            entries.append(Entry(f"{prefix}/{name}", FILE, _mode(info.st_mode), path, info.st_size))
    if not any(entry.kind == FILE for entry in entries):
        raise Refused(
            f"the source folder {source} holds no file: the project's published code is missing"
        )
    return entries


# ---------------------------------------------------------------------------------------------
# the output


def complete(entries: Sequence[Entry]) -> list[Entry]:
    """``entries`` with every file's parent folders, sorted by name; refuses a name that is
    both a file and a folder."""
    by_name = {entry.name: entry for entry in entries}
    for entry in entries:
        parts = entry.name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            known = by_name.get(parent)
            if known is None:
                by_name[parent] = Entry(parent, FOLDER, FOLDER_MODE)
            elif known.kind == FILE:
                raise Refused(f"{parent!r} is both a file and a folder in the packaged model")
    return [by_name[name] for name in sorted(by_name)]


def _info(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = tarfile.DIRTYPE if entry.kind == FOLDER else tarfile.REGTYPE
    info.mode = entry.mode
    info.size = entry.size if entry.kind == FILE else 0
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _gzip_writer(raw: IO[bytes]) -> gzip.GzipFile:
    """gzip without a file name, with mtime 0 and a fixed level: the same bytes every time."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0)


def _tar_writer(compressed: gzip.GzipFile) -> tarfile.TarFile:
    return tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8")


def write_archive(entries: Sequence[Entry], output: str) -> None:
    """``output``: the entries as a deterministic gzip-compressed tar (see the module's doc)."""
    with open(output, "wb") as raw, _gzip_writer(raw) as compressed, _tar_writer(compressed) as tar:
        for entry in entries:
            info = _info(entry)
            if entry.kind == FOLDER:
                tar.addfile(info)
                continue
            with open(entry.path, "rb") as data:
                if os.fstat(data.fileno()).st_size != entry.size:
                    raise Refused(f"{entry.path} changed while it was packaged")
                tar.addfile(info, data)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package(model_dir: str, source: str, out: str, expected_sha256: str | None = None) -> Summary:
    """Writes ``<out>/model.tar.gz``; refuses (Refused) what cannot be packaged, leaving no
    output. ``expected_sha256``: the import check's hash of the archive, so that an archive
    replaced after the check is refused, not packaged."""
    archive = model_archive(model_dir)
    if expected_sha256 is not None and _sha256(archive) != expected_sha256:
        raise Refused(
            f"{os.path.basename(archive)} is not the archive the import check read (its SHA-256"
            f" is not {expected_sha256}): it was replaced after the check; import it again"
        )
    code = source_entries(source)
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    output = os.path.join(out, OUTPUT)
    scratch = tempfile.mkdtemp(prefix=".package-", dir=os.path.dirname(out))
    try:
        kept, dropped = read_archive(archive, scratch)
        entries = complete(kept + code)
        try:
            write_archive(entries, output)
        except BaseException:
            if os.path.exists(output):
                os.remove(output)
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    added = sum(1 for entry in code if entry.kind == FILE)
    return Summary(output, _sha256(output), os.path.getsize(output), len(kept), added, dropped)


# ---------------------------------------------------------------------------------------------
# command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Refused(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Package an imported model with the project's code.")
    parser.add_argument("--model-dir", required=True, help="holds the imported archive alone")
    parser.add_argument("--source", required=True, help="the project's published src/")
    parser.add_argument("--out", required=True, help=f"where {OUTPUT} is written")
    parser.add_argument("--expected-sha256", help="the import check's SHA-256 of the archive")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        summary = package(args.model_dir, args.source, args.out, args.expected_sha256)
    except Refused as refused:
        print(f"{PROG}: error: {' '.join(str(refused).split())}", file=sys.stderr)
        return 2
    print(
        f"{PROG}: wrote {summary.output} (sha256 {summary.sha256}, {summary.size} bytes): "
        f"{summary.kept} members kept, {summary.added} code files added from "
        f"{os.path.abspath(args.source)}, {summary.dropped} {CODE}/ members dropped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
