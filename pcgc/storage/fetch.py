"""Fetching and verifying a network's published weights (docs/networks.md, "How the fetch uses the record").

Two downloads make up a network, both named by its record (pcgc.spec.networks): the backbone's
state dict and an archive that holds one state dict per PCoder predictor (for PVGG16, torchvision's
VGG16 `IMAGENET1K_V1` and Predify's `weights_pvgg16_imagenet.zip`). The backbone is checked against
its sha256, given or taken from the prefix torch.hub puts in file names; every predictor and the
backbone are then loaded into the network they belong to, so an archive without a published
checksum is verified too. Nothing is trusted until it has been checked, and `manifest.json` is
written last: its presence means the whole fetch succeeded.

Every source may also be a local path or a `file://` URL, so that compute nodes without internet
can use a copy downloaded elsewhere.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn
from tqdm import tqdm

from pcgc.compute.networks import build_network
from pcgc.spec.networks import NETWORKS, WEIGHT_ROLES, NetworkRecord, member_names, network_record
from pcgc.spec.provenance import sha256_file
from pcgc.storage.atomic import atomic_path
from pcgc.storage.checkpoints import (
    CheckpointError,
    load_state_into,
    read_pcoder_checkpoint,
    read_state_dict,
    save_state_dict,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-f]+")
# torch.hub's naming convention: `<name>-<first hex digits of the sha256>.<ext>`.
_HASHED_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")


class FetchError(RuntimeError):
    """A download, archive or checkpoint that could not be fetched or verified; names what and why."""


@dataclass(frozen=True)
class Source:
    """Where one file comes from: a URL (http, https or file) or a local path, exactly one of them.

    `sha256` (64 hex digits), when given, must match the file's digest.
    """

    url: str | None = None
    path: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.path is None):
            raise ValueError(f"a Source needs exactly one of url and path, got url={self.url!r}, path={self.path!r}")
        if self.path is not None:
            object.__setattr__(self, "path", os.fspath(self.path))
            if not self.path:
                raise ValueError("a Source path must not be empty")
        if self.url is not None:
            scheme = urllib.parse.urlparse(self.url).scheme
            if scheme not in ("http", "https", "file"):
                raise ValueError(f"unsupported URL scheme {scheme!r} in {self.url!r}; use http, https or file")
        if self.sha256 is not None:
            digest = self.sha256.lower()
            if len(digest) != 64 or not _HEX.fullmatch(digest):
                raise ValueError(f"sha256 must be 64 hex digits, got {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)

    @classmethod
    def parse(cls, location: str, sha256: str | None = None) -> Source:
        """A URL if `location` has an http/https/file scheme, a local path otherwise (for CLIs/configs)."""
        if urllib.parse.urlparse(location).scheme in ("http", "https", "file"):
            return cls(url=location, sha256=sha256)
        return cls(path=location, sha256=sha256)

    def local_path(self) -> Path | None:
        """The file on this machine for a path or file:// source; None for a remote URL."""
        if self.path is not None:
            return Path(self.path).expanduser()
        parsed = urllib.parse.urlparse(self.url)
        if parsed.scheme == "file":
            return Path(urllib.request.url2pathname(parsed.path))
        return None

    def file_name(self) -> str:
        """The last component of the path or of the URL's path (query ignored)."""
        if self.path is not None:
            return Path(self.path).name
        return PurePosixPath(urllib.parse.unquote(urllib.parse.urlparse(self.url).path)).name

    def describe(self) -> str:
        return self.url if self.url is not None else self.path

    def as_dict(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)


def sha256_prefix_from_name(name: str) -> str | None:
    """The sha256 prefix in a torch.hub-style file name (`vgg16-397923af.pth` -> `397923af`), or None."""
    match = _HASHED_NAME.search(name)
    return match.group(1) if match else None


def published_sources(record: NetworkRecord) -> dict[str, Source | None]:
    """Where the record says each weight file is published (None for a file it does not publish)."""
    files = {role: record.weights.file(role) for role in WEIGHT_ROLES}
    return {role: Source(**file.source()) if file is not None and file.url is not None else None for role, file in files.items()}


# --------------------------------------------------------------------------------------- download


class _Transient(Exception):
    """A failed attempt worth retrying (network trouble, 5xx)."""


class _Permanent(Exception):
    """A failed attempt that retrying cannot fix (4xx, an HTML page instead of the file)."""


def _check_hex(value: str | None, what: str, min_len: int) -> str | None:
    if value is None:
        return None
    value = value.lower()
    if not (min_len <= len(value) <= 64) or not _HEX.fullmatch(value):
        raise ValueError(f"{what} must be {min_len} to 64 hex digits, got {value!r}")
    return value


def _hash_check(path: Path, expected_sha256: str | None, expected_prefix: str | None) -> tuple[str, str | None]:
    """The file's sha256, and None if it matches what is expected, else a message with both digests."""
    got = sha256_file(path)
    if expected_sha256 is not None and got != expected_sha256:
        return got, f"sha256 mismatch: expected {expected_sha256}, got {got}"
    if expected_prefix is not None and not got.startswith(expected_prefix):
        return got, f"sha256 mismatch: expected a digest starting {expected_prefix}, got {got}"
    return got, None


def _content_range_start(header: str | None) -> int | None:
    """The first byte of a `bytes start-end/total` Content-Range; None if absent or unparseable."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (header or "").strip())
    return int(match.group(1)) if match else None


def _attempt(url: str, part: Path, timeout: float, progress: bool, label: str) -> None:
    """One request: append to `part` if the server honours a Range request, else start over."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "pcgc-fetch"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            # The partial file is not a prefix the server can continue (e.g. already complete or
            # longer than the file); only a fresh download can tell.
            part.unlink()
            return _attempt(url, part, timeout, progress, label)
        message = f"HTTP error {err.code} {err.reason}"
        if err.code in (408, 425, 429) or err.code >= 500:
            raise _Transient(message) from err
        raise _Permanent(message) from err
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, TimeoutError) or isinstance(err, TimeoutError):
            raise _Transient(f"timed out after {timeout} s waiting for the server") from err
        raise _Transient(f"could not connect: {reason}") from err

    with response:
        status = getattr(response, "status", None) or 200  # file:// responses carry no status
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "text/html":
            raise _Permanent(
                "the server sent an HTML page (Content-Type text/html), not the file"
                " (for a Dropbox share link, end it in ?dl=1, not ?dl=0)"
            )
        if status == 206 and offset:
            if _content_range_start(response.headers.get("Content-Range")) != offset:
                # Not the continuation that was asked for: start over rather than splice.
                part.unlink()
                response.close()
                return _attempt(url, part, timeout, progress, label)
            mode = "ab"
        else:
            # 200: the server sends the whole file (it ignored or does not support Range).
            offset, mode = 0, "wb"
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header is not None else None
        total = offset + length if length is not None else None

        received = 0
        bar = tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=label, file=sys.stderr, disable=not progress,
        )
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except http.client.IncompleteRead as err:
                        out.write(err.partial)
                        received += len(err.partial)
                        bar.update(len(err.partial))
                        raise _Transient(_dropped(offset + received, total)) from err
                    except TimeoutError as err:
                        raise _Transient(
                            f"timed out after {timeout} s without data; received {offset + received}"
                            f" of {total if total is not None else 'an unknown number of'} bytes"
                        ) from err
                    except (ConnectionError, http.client.HTTPException, OSError) as err:
                        raise _Transient(f"{_dropped(offset + received, total)} ({err})") from err
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        finally:
            bar.close()
        if length is not None and received != length:
            raise _Transient(_dropped(offset + received, total))


def _dropped(have: int, total: int | None) -> str:
    expected = f"{total}" if total is not None else "an unknown number of"
    return f"connection dropped mid-file (truncated download): received {have} of {expected} bytes"


def _download(
    url: str,
    dest: Path,
    *,
    expected_sha256_prefix: str | None = None,
    expected_sha256: str | None = None,
    timeout: float = 60,
    retries: int = 3,
    progress: bool = True,
    retry_wait: float = 1.0,
) -> str:
    """Download `url` to `dest`, resuming a partial download, and verify it before it appears;
    returns its sha256 (so callers need not hash it again).

    Data goes to `<dest>.part`; an existing `.part` is continued with a Range request when the
    server answers 206 (a 200 starts over). A failed attempt (network error, timeout, dropped
    connection, 5xx) is retried `retries` more times, waiting `retry_wait` seconds, doubling; a
    4xx is not retried. The `.part` is kept after network failures (a rerun resumes it) and deleted
    after a hash mismatch (a rerun starts over). `dest` only ever holds a verified file: an existing
    `dest` that matches the expected hash is kept as is, any other is replaced.
    """
    dest = Path(dest)
    expected_sha256 = _check_hex(expected_sha256, "expected_sha256", 64)
    expected_sha256_prefix = _check_hex(expected_sha256_prefix, "expected_sha256_prefix", 8)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        if expected_sha256 or expected_sha256_prefix:
            digest, problem = _hash_check(dest, expected_sha256, expected_sha256_prefix)
            if problem is None:
                return digest
        dest.unlink()  # unverifiable or wrong: it must not look like a finished download
    dest.parent.mkdir(parents=True, exist_ok=True)

    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(retry_wait * 2 ** (attempt - 1))
        try:
            _attempt(url, part, timeout, progress, dest.name)
            break
        except _Permanent as err:
            raise FetchError(f"{url}: {err}") from err
        except _Transient as err:
            last = err
    else:
        kept = f"; the {part.stat().st_size} bytes received are kept in {part} for a resume" if part.exists() else ""
        raise FetchError(f"{url}: download failed after {retries + 1} attempt(s): {last}{kept}") from last

    digest, problem = _hash_check(part, expected_sha256, expected_sha256_prefix)
    if problem is not None:
        part.unlink()
        raise FetchError(f"{url}: {problem}; deleted the download, a rerun starts over")
    os.replace(part, dest)
    return digest


# ---------------------------------------------------------------------------------------- archive


def _open_zip(archive: Path) -> zipfile.ZipFile:
    if not archive.is_file():
        raise FetchError(f"{archive}: archive not found")
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        with open(archive, "rb") as f:
            head = f.read(512).lstrip().lower()
        hint = (
            " It looks like an HTML page (a Dropbox preview link? end it in ?dl=1)."
            if head.startswith((b"<!doctype html", b"<html"))
            else " Truncated or corrupt download?"
        )
        raise FetchError(f"{archive}: not a readable zip archive ({err}).{hint}") from err


def _extract_members(archive: Path, out_dir: Path, names: list[str], dest_names: list[str] | None = None) -> list[tuple[str, Path]]:
    """Extract each named member (matched by its file name, wherever it sits in the archive) to
    out_dir under the matching name of `dest_names` (default: its own); all of them or none.
    Returns (member path in the archive, extracted file) pairs in the order of `names`."""
    dest_names = list(names) if dest_names is None else dest_names
    if len(dest_names) != len(names):
        raise ValueError(f"{len(names)} members but {len(dest_names)} file names to extract them to")
    with _open_zip(archive) as zf:
        entries = [info for info in zf.infolist() if not info.is_dir()]
        found: dict[str, list[zipfile.ZipInfo]] = {}
        for info in entries:
            found.setdefault(PurePosixPath(info.filename).name, []).append(info)
        missing = [name for name in names if name not in found]
        if missing:
            listing = ", ".join(info.filename for info in entries[:50]) or "nothing"
            more = f" and {len(entries) - 50} more" if len(entries) > 50 else ""
            raise FetchError(f"{archive}: missing {', '.join(missing)}; the archive holds: {listing}{more}")
        doubled = {name: [i.filename for i in found[name]] for name in names if len(found[name]) > 1}
        if doubled:
            raise FetchError(
                f"{archive}: ambiguous, these names occur more than once: "
                + "; ".join(f"{name} at {', '.join(paths)}" for name, paths in doubled.items())
            )

        out_dir.mkdir(parents=True, exist_ok=True)
        done: list[tuple[str, Path]] = []
        try:
            for name, dest_name in zip(names, dest_names):
                info = found[name][0]
                dest = out_dir / dest_name
                tmp = dest.with_name(dest.name + ".partial")
                try:
                    with zf.open(info) as src, open(tmp, "wb") as out:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
                    tmp.unlink(missing_ok=True)
                    raise FetchError(f"{archive}: cannot extract {info.filename} (corrupt or truncated?): {err}") from err
                os.replace(tmp, dest)
                done.append((info.filename, dest))
        except BaseException:
            for _, path in done:
                path.unlink(missing_ok=True)
            raise
        return done


# A PCoder's number in a member's file name: `pc3`, `pc_3`, `pcoder3`, `PCoder-3`, not preceded by a
# letter or digit (so `rpc3` or `vgg16pc3` do not count) nor followed by a digit.
_PCODER_NUMBER = re.compile(r"(?<![a-z0-9])pc(?:oder)?[_-]?([1-9][0-9]*)(?![0-9])", re.IGNORECASE)
_CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt")


def _pcoder_number(member: str) -> int | None:
    """The PCoder a checkpoint's file name names, or None (no number, or two different ones)."""
    name = PurePosixPath(member).name
    if name.startswith(".") or not name.lower().endswith(_CHECKPOINT_SUFFIXES):
        return None
    numbers = {int(match) for match in _PCODER_NUMBER.findall(name)}
    return numbers.pop() if len(numbers) == 1 else None


def find_pcoder_members(archive: Path, count: int) -> list[str]:
    """The member holding each of `count` PCoders' checkpoints (file names, in PCoder order), found
    by the PCoder number in their names (`_PCODER_NUMBER`). A PCoder with no member or several is
    an error that lists the archive, so the user can name the members instead."""
    with _open_zip(archive) as zf:
        entries = [info.filename for info in zf.infolist() if not info.is_dir() and not info.filename.startswith("__MACOSX/")]
    by_pcoder: dict[int, list[str]] = {}
    for member in entries:
        number = _pcoder_number(member)
        if number is not None:
            by_pcoder.setdefault(number, []).append(member)
    problems = []
    for n in range(1, count + 1):
        found = by_pcoder.get(n, [])
        if len(found) != 1:
            problems.append(f"PCoder {n}: {'no checkpoint' if not found else 'several: ' + ', '.join(found)}")
    extra = sorted(n for n in by_pcoder if n > count)
    if extra:
        problems.append(f"checkpoints for PCoders {extra}, but the network has {count}")
    if problems:
        listing = ", ".join(entries[:50]) or "nothing"
        more = f" and {len(entries) - 50} more" if len(entries) > 50 else ""
        raise FetchError(
            f"{archive}: cannot tell which member holds which PCoder ({'; '.join(problems)}). The archive holds: "
            f"{listing}{more}. Name them in weights.feedback_archive.members: a file name with {{n}} for the "
            f"PCoder, or a list of {count} names"
        )
    return [PurePosixPath(by_pcoder[n][0]).name for n in range(1, count + 1)]


def _extract_pcoder_checkpoints(
    archive: Path, out_dir: Path, names: list[str] | None, dest_names: list[str]
) -> list[tuple[str, Path]]:
    """`predify_pcoder_checkpoint_zip`: each PCoder's training checkpoint (named, or found by its
    number), its predictor's state dict written to out_dir under `dest_names` in pcgc's format."""
    if names is None:
        names = find_pcoder_members(archive, len(dest_names))
    for n, name in enumerate(names, start=1):
        # What was found, in the job's log: the member names were never published.
        log.info("%s: PCoder %d's predictor from member %s", archive.name, n, name)
    staging = out_dir / ".checkpoints.partial"
    extracted = _extract_members(archive, staging, names, dest_names)
    done: list[tuple[str, Path]] = []
    try:
        for member, checkpoint in extracted:
            try:
                state = read_pcoder_checkpoint(checkpoint, label=f"{archive} member {member}")
            except CheckpointError as err:
                raise FetchError(str(err)) from err
            dest = out_dir / checkpoint.name
            save_state_dict(state, dest)
            done.append((member, dest))
    except BaseException:
        for _, path in done:
            path.unlink(missing_ok=True)
        raise
    finally:
        for _, checkpoint in extracted:
            checkpoint.unlink(missing_ok=True)
        if staging.is_dir():
            staging.rmdir()
    return done


# How each archive format of pcgc.spec.networks.WEIGHT_FORMATS is unpacked into predictor files,
# as (archive, out_dir, member names or None, predictor file names) -> [(member, written file)].
# `predify_pmodule_zip`: members are found by file name wherever they sit (the archives' folder
# layout is not documented); a missing or doubled name is an error, and a failure extracts nothing.
# `predify_pcoder_checkpoint_zip`: training checkpoints, named or found by their PCoder numbers.
_ARCHIVE_READERS = {"predify_pmodule_zip": _extract_members, "predify_pcoder_checkpoint_zip": _extract_pcoder_checkpoints}


# ----------------------------------------------------------------------------------- verification


def _verify_checkpoint(module: nn.Module, path: Path, what: str) -> None:
    """Load the file into `module` (keys, shapes and dtypes must fit) or raise naming file and cause.

    `module` lives on the meta device: reading the file materialises every tensor (so truncation
    and corruption show), and `load_state_dict` runs all its key and shape checks, but copying
    ~0.9 GB into memory that is thrown away right after would only cost time.
    """
    try:
        state = read_state_dict(path)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter", category=UserWarning)
            load_state_into(module, state, path)
        wrong = [
            f"{key}: file {state[key].dtype} vs model {value.dtype}"
            for key, value in module.state_dict().items()
            if state[key].dtype != value.dtype
        ]
        if wrong:
            # load_state_dict would convert silently; a different dtype means a different file.
            raise CheckpointError(f"{path}: tensor dtypes do not match: " + "; ".join(wrong))
    except CheckpointError as err:
        raise FetchError(f"{what} failed verification: {err}") from err


def _skeleton(record: NetworkRecord) -> nn.Module:
    # On the meta device: the network only serves to check the files' keys and shapes, and VGG16's
    # random initialisation alone costs seconds.
    with torch.device("meta"):
        return build_network(record.name, record.num_classes)


# ---------------------------------------------------------------------------------------- manifest


def _file_entry(path: Path, out_dir: Path, source: dict[str, Any], sha256: str | None = None) -> dict[str, Any]:
    return {
        "path": path.relative_to(out_dir).as_posix(),
        "size": path.stat().st_size,
        "sha256": sha256 if sha256 is not None else sha256_file(path),
        "source": source,
    }


def _manifest_files(manifest: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield manifest["backbone"]
    yield from manifest["pmodules"]


def _recorded_sources(sources: Mapping[str, Source], members: list[str] | None) -> dict[str, Any]:
    """The sources as the manifest records them; the archive's members only where the user named them."""
    recorded: dict[str, Any] = {role: source.as_dict() for role, source in sources.items()}
    if members is not None:
        recorded["feedback_archive"]["members"] = members
    return recorded


def _check_existing(manifest_path: Path, spec: str, sources: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest if it records this very fetch (`sources` as `_recorded_sources` gives them) and
    every file still matches it; None to refetch."""
    try:
        manifest = json.loads(manifest_path.read_text())
        recorded = (manifest["spec"], manifest["sources"])
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise FetchError(f"{manifest_path}: unreadable manifest ({err}); delete it to fetch again") from err
    if recorded != (spec, sources):
        return None  # other sources or network: a new fetch replaces the old one
    out_dir = manifest_path.parent
    for entry in _manifest_files(manifest):
        path = out_dir / entry["path"]
        if not path.is_file():
            raise FetchError(f"{path}: listed in {manifest_path} but missing; delete the manifest to fetch again")
        size, digest = path.stat().st_size, sha256_file(path)
        if (size, digest) != (entry["size"], entry["sha256"]):
            raise FetchError(
                f"{path}: changed since the verified fetch recorded in {manifest_path} "
                f"(size {size} vs {entry['size']}, sha256 {digest} vs {entry['sha256']}); "
                "delete the manifest to fetch again"
            )
    return manifest


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


# ------------------------------------------------------------------------------------ fetch_weights


def _expected_backbone_hash(source: Source) -> tuple[str | None, str | None]:
    if source.sha256 is not None:
        return source.sha256, None
    prefix = sha256_prefix_from_name(source.file_name())
    if prefix is None:
        raise FetchError(
            f"{source.describe()}: cannot verify the backbone: give its sha256, or use a file named like "
            "torchvision's (`<name>-<first hex digits of its sha256>.pth`)"
        )
    return None, prefix


def _obtain(source: Source, dest: Path, expected: tuple[str | None, str | None], **download_args: Any) -> str:
    """Download (or copy, for a local source) into dest, hash-verified; returns its sha256."""
    local = source.local_path()
    url = local.resolve().as_uri() if local is not None else source.url
    return _download(url, dest, expected_sha256=expected[0], expected_sha256_prefix=expected[1], **download_args)


def _sources(record: NetworkRecord, given: Mapping[str, Source | None]) -> dict[str, Source]:
    """Each role's source: the one given, else the record's published one."""
    if record.weights.feedback_archive is None:
        fetchable = sorted(name for name, other in NETWORKS.items() if other.published)
        raise ValueError(
            f"network {record.name!r} has no published weights to fetch (the workflow trains them); "
            f"networks with published weights: {', '.join(fetchable)}"
        )
    published = published_sources(record)
    sources = {}
    for role in WEIGHT_ROLES:
        source = given.get(role) or published[role]
        if source is None:
            raise FetchError(f"network {record.name!r}: its record publishes no {role}; give one (a URL or a local path)")
        sources[role] = source
    return sources


def archive_member_names(record: NetworkRecord, members: str | Sequence[str] | None) -> list[str] | None:
    """The feedback archive's member for each PCoder: `members` as a user names them (a file name
    with `{n}` for the PCoder, or one name per PCoder), else the record's (None: found by number)."""
    count = record.num_pcoders
    if members is None:
        return record.archive_members()
    if isinstance(members, str):
        if "{n}" not in members:
            raise ValueError(f"feedback archive members {members!r}: a single name needs {{n}} where the PCoder's number goes")
        return member_names(members, count)
    names = [PurePosixPath(name).name for name in members]
    if len(names) != count or len(set(names)) != count or not all(names):
        raise ValueError(f"feedback archive members: {count} different file names needed ({record.name} has {count} PCoders), got {list(members)}")
    return names


def fetch_weights(
    out_dir: Path,
    network: NetworkRecord | str,
    *,
    backbone: Source | None = None,
    feedback_archive: Source | None = None,
    feedback_members: str | Sequence[str] | None = None,
    timeout: float = 60,
    retries: int = 3,
    progress: bool = True,
) -> dict[str, Any]:
    """Fetch, verify and record the weights of `network` (a record or its name) in out_dir; returns the manifest.

    The files come from `backbone` and `feedback_archive` where given, else from where the record
    says they are published. `feedback_members` names the archive's member of each PCoder
    (`archive_member_names`) where the record's names or its format's matching do not fit.

    Writes the record's backbone file, one predictor file per PCoder
    (`<pmodule_prefix>_pc{n}_pmodule.pth`) and, last, `manifest.json` (per file: path relative to
    out_dir, size, sha256, source). The archive is fetched first (it may have no checksum, so a
    bad one should fail before the big backbone download), its predictors are loaded into the
    network's PCoders, then the backbone is fetched (sha256 checked) and loaded into the network's
    backbone. A local archive is read in place; a downloaded one is deleted once extracted.

    A second call with the same network and sources re-hashes the files against the manifest and
    returns it without network access; a file that changed since is an error. Other sources start
    a new fetch. On failure, files this call wrote and did not verify are removed (a partial
    download's `.part` stays, for a resume) and no manifest exists.
    """
    record = network if isinstance(network, NetworkRecord) else network_record(network)
    sources = _sources(record, {"backbone": backbone, "feedback_archive": feedback_archive})
    members = archive_member_names(record, feedback_members)
    recorded_sources = _recorded_sources(sources, None if feedback_members is None else members)
    archive_file = record.weights.feedback_archive
    if archive_file.format not in _ARCHIVE_READERS:
        raise FetchError(f"network {record.name!r}: no reader for archive format {archive_file.format!r}")
    out_dir = Path(out_dir)
    for role, source in sources.items():
        local = source.local_path()
        if local is not None and not local.is_file():
            raise FetchError(f"{local}: {role} file not found")
    backbone_hash = _expected_backbone_hash(sources["backbone"])
    download_args = {"timeout": timeout, "retries": retries, "progress": progress}

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    if manifest_path.exists():
        manifest = _check_existing(manifest_path, record.name, recorded_sources)
        if manifest is not None:
            return manifest
        manifest_path.unlink()  # about to be replaced; it must not vouch for a half-done refetch

    net = _skeleton(record)
    written: list[Path] = []
    verified: set[Path] = set()
    temporary: list[Path] = []
    archive_source, backbone_source = sources["feedback_archive"], sources["backbone"]
    try:
        archive = archive_source.local_path()
        if archive is None:
            archive = out_dir / archive_file.file
            temporary.append(archive)
            archive_sha256 = _obtain(archive_source, archive, (archive_source.sha256, None), **download_args)
        else:
            archive_sha256, problem = _hash_check(archive, archive_source.sha256, None)
            if problem is not None:
                raise FetchError(f"{archive}: {problem}")
        archive_entry = {"size": archive.stat().st_size, "sha256": archive_sha256}

        extracted = _ARCHIVE_READERS[archive_file.format](archive, out_dir, members, record.pmodule_files())
        written.extend(path for _, path in extracted)
        for k, (pmodule, (member, path)) in enumerate(zip(net.pmodules, extracted), start=1):
            _verify_checkpoint(pmodule, path, f"PCoder {k} predictor {member} from {archive_source.describe()}")
            verified.add(path)
        for path in temporary:
            path.unlink()
        temporary.clear()

        backbone_path = out_dir / record.backbone_file()
        written.append(backbone_path)
        backbone_sha256 = _obtain(backbone_source, backbone_path, backbone_hash, **download_args)
        _verify_checkpoint(net.backbone, backbone_path, f"backbone {backbone_source.describe()}")
        verified.add(backbone_path)
        del net

        manifest = {
            "version": MANIFEST_VERSION,
            "spec": record.name,
            "sources": recorded_sources,
            "backbone": _file_entry(backbone_path, out_dir, backbone_source.as_dict(), backbone_sha256),
            "pmodules": [
                _file_entry(path, out_dir, {"archive": archive_source.as_dict(), "member": member})
                for member, path in extracted
            ],
            "feedback_archive": {**archive_entry, "source": archive_source.as_dict()},
        }
        _write_json_atomic(manifest_path, manifest)
    except BaseException:
        for path in written + temporary:
            if path not in verified:
                path.unlink(missing_ok=True)
        raise
    return manifest
