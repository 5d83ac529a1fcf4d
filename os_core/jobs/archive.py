"""Unpacking an uploaded application archive (zip or tar, optionally gzip/bz2/xz compressed), safely.

An upload is untrusted: every member is checked before anything is written — no absolute paths, no
``..``, no links or device files, a bounded number of files and unpacked bytes (the sizes the headers
claim are checked, and so is what actually comes out: a zip bomb stops at the limit) — and files are
created with ``O_EXCL | O_NOFOLLOW`` inside a fresh directory. Any problem is an :class:`UploadError`
that names the member and the rule, with the HTTP status the service answers with.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

from ..errors import QNodeOSError


class UploadError(QNodeOSError):
    """A submission the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ArchiveLimits:
    max_upload_bytes: int = 4 << 20
    max_unpacked_bytes: int = 32 << 20
    max_files: int = 500


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int


def unpack_app(data: bytes, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Unpack ``data`` into the new directory ``dest``; return the application directory inside it
    (``dest`` itself, or its single top-level folder when the archive wraps the files in one)."""
    if len(data) > limits.max_upload_bytes:
        raise UploadError(f"the archive is {len(data)} bytes; the limit is {limits.max_upload_bytes}", 413)
    if not data:
        raise UploadError("the archive is empty (0 bytes)", 400)
    if zipfile.is_zipfile(io.BytesIO(data)):
        _unpack(_ZipSource(data), dest, limits)
    else:
        try:
            tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UploadError(f"the upload is not a zip or tar archive (.zip, .tar, .tar.gz): {exc}", 415) from None
        with tar:
            _unpack(_TarSource(tar), dest, limits)
    return app_root(dest)


def app_root(dest: Path) -> Path:
    """Where the ``app_<role>.py`` files are: at the top, or in the one top-level folder."""
    if any(dest.glob("app_*.py")):
        return dest
    entries = [p for p in dest.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and any(entries[0].glob("app_*.py")):
        return entries[0]
    raise UploadError("the archive holds no app_<role>.py files (at its top level or inside one top-level "
                      "folder): it is not a NetQASM application directory")


def safe_name(name: str) -> PurePosixPath:
    """The member's path, relative and inside the archive root; an :class:`UploadError` otherwise."""
    if not name or "\x00" in name:
        raise UploadError(f"archive member {name!r}: empty name or NUL character")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UploadError(f"archive member {name!r}: absolute path (members must be relative)")
    path = PurePosixPath(name.replace("\\", "/"))
    if ".." in path.parts:
        raise UploadError(f"archive member {name!r}: path traversal ('..' leaves the archive)")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise UploadError(f"archive member {name!r}: names no file")
    if any(len(p.encode()) > 255 for p in parts) or len(parts) > 32:
        raise UploadError(f"archive member {name[:60]!r}: path too long or too deep")
    return PurePosixPath(*parts)


class _ZipSource:
    def __init__(self, data: bytes) -> None:
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError) as exc:
            raise UploadError(f"the zip archive is damaged: {exc}", 400) from None

    def members(self) -> Iterator[tuple[_Member, zipfile.ZipInfo]]:
        for info in self.zf.infolist():
            mode = stat.S_IFMT(info.external_attr >> 16)  # 0: no file type recorded (a plain file)
            if info.flag_bits & 0x1:
                raise UploadError(f"archive member {info.filename!r}: encrypted zip members are not accepted")
            if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file or folder"
                raise UploadError(f"archive member {info.filename!r}: {kind} (only files and folders are accepted)")
            yield _Member(info.filename, info.is_dir(), info.file_size), info

    def open(self, handle: zipfile.ZipInfo) -> IO[bytes]:
        return self.zf.open(handle)


class _TarSource:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar

    def members(self) -> Iterator[tuple[_Member, tarfile.TarInfo]]:
        try:
            for info in self.tar:
                if info.issym() or info.islnk():
                    raise UploadError(f"archive member {info.name!r}: a {'symbolic' if info.issym() else 'hard'} "
                                      f"link to {info.linkname!r} (links are not accepted)")
                if not (info.isfile() or info.isdir()):
                    raise UploadError(f"archive member {info.name!r}: a device, FIFO or other special file "
                                      "(only files and folders are accepted)")
                yield _Member(info.name, info.isdir(), info.size), info
        except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as exc:
            raise UploadError(f"the tar archive is damaged: {exc}", 400) from None

    def open(self, handle: tarfile.TarInfo) -> IO[bytes]:
        f = self.tar.extractfile(handle)
        if f is None:  # pragma: no cover - only regular files reach here
            raise UploadError(f"archive member {handle.name!r}: cannot be read")
        return f


def _unpack(source: _ZipSource | _TarSource, dest: Path, limits: ArchiveLimits) -> None:
    members: list[tuple[PurePosixPath, Any, Any]] = []  # (path, member, the source's handle)
    declared = 0
    for member, handle in source.members():
        rel = safe_name(member.name)
        if len(members) >= limits.max_files:
            raise UploadError(f"the archive has more than {limits.max_files} members", 413)
        declared += member.size
        if declared > limits.max_unpacked_bytes:
            raise UploadError(f"the archive unpacks to more than {limits.max_unpacked_bytes} bytes", 413)
        members.append((rel, member, handle))
    dest.mkdir(mode=0o700)
    written = 0
    root = dest.resolve()
    for rel, member, handle in members:
        target = root.joinpath(*rel.parts)
        if member.is_dir:
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            continue
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if target.parent.resolve() != target.parent or not str(target.parent).startswith(str(root)):
            raise UploadError(f"archive member {member.name!r}: leaves the archive through a folder")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            raise UploadError(f"archive member {member.name!r}: appears twice") from None
        with os.fdopen(fd, "wb") as out:
            try:
                with source.open(handle) as f:
                    while chunk := f.read(1 << 16):
                        written += len(chunk)
                        if written > limits.max_unpacked_bytes:
                            raise UploadError(f"the archive unpacks to more than {limits.max_unpacked_bytes} "
                                              "bytes", 413)
                        out.write(chunk)
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as exc:
                raise UploadError(f"archive member {member.name!r} cannot be read: {exc}", 400) from None
