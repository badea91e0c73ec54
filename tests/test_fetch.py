"""pcgc.storage.fetch against a local HTTP server serving files in the real formats and shapes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from pcgc.spec.networks import NETWORKS, pmodule_filename
from pcgc.storage.fetch import (
    FetchError,
    Source,
    _download,
    _extract_members,
    fetch_weights,
    published_sources,
    sha256_file,
    sha256_prefix_from_name,
)
from tests.conftest import PMODULE_NAMES
from tests.http_fixture import FileServer, Route

PREFIX = "pvgg16_imagenet_pretrained"
FAST = {"progress": False, "retries": 0}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def out(tmp_path: Path):
    """Output folder for a fetch, deleted afterwards (it may hold ~0.9 GB)."""
    yield tmp_path / "weights"
    shutil.rmtree(tmp_path)


@pytest.fixture
def server():
    with FileServer() as s:
        yield s


def serve_weights(server: FileServer, weights: dict, archive: str = "zip", **archive_route) -> tuple[Source, Source]:
    backbone_url = server.add(f"/{weights['hashed_backbone'].name}", Route(file=weights["hashed_backbone"]))
    archive_url = server.add("/weights_pvgg16_imagenet.zip", Route(file=weights[archive], **archive_route))
    return Source(url=backbone_url), Source(url=archive_url)


def assert_nothing_left(out: Path, *, except_names: set[str] = frozenset()) -> None:
    assert {p.name for p in out.iterdir()} <= set(except_names)


# ------------------------------------------------------------------------------------ fetch_weights


@pytest.mark.slow
def test_fetch_success_then_rerun_is_an_offline_recheck(server, weights, out):
    backbone, archive = serve_weights(server, weights)

    manifest = fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, progress=False)

    expected_names = {"vgg16_imagenet1k_v1.pth", "manifest.json", *PMODULE_NAMES}
    assert {p.name for p in out.iterdir()} == expected_names  # archive and .part files are gone
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["backbone"]["path"] == "vgg16_imagenet1k_v1.pth"
    assert manifest["backbone"]["sha256"] == weights["backbone_sha"]
    assert manifest["backbone"]["size"] == weights["backbone"].stat().st_size
    assert manifest["backbone"]["source"] == {"url": backbone.url, "path": None, "sha256": None}
    assert sha256_file(out / "vgg16_imagenet1k_v1.pth") == weights["backbone_sha"]
    for k, (entry, original, digest) in enumerate(
        zip(manifest["pmodules"], weights["pmodules"], weights["pmodule_shas"]), start=1
    ):
        assert entry["path"] == pmodule_filename(PREFIX, k)
        assert entry["sha256"] == digest == sha256_file(out / entry["path"])
        assert entry["size"] == original.stat().st_size
        assert entry["source"] == {"archive": archive.as_dict(), "member": f"weights/{original.name}"}
    assert manifest["feedback_archive"]["sha256"] == sha256_file(weights["zip"])

    # Same sources again: files are re-hashed against the manifest, nothing is downloaded.
    requests_before = len(server.log)
    assert fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, progress=False) == manifest
    assert len(server.log) == requests_before

    # A file that changed after the verified fetch is reported, not silently refetched.
    with open(out / PMODULE_NAMES[0], "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(FetchError, match=rf"{PMODULE_NAMES[0]}: changed since the verified fetch"):
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, progress=False)


@pytest.mark.slow
def test_fetch_from_local_path_and_file_url(weights, out):
    backbone = Source(path=str(weights["backbone"]), sha256=weights["backbone_sha"])
    archive = Source(url=weights["zip"].as_uri())

    manifest = fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, progress=False)

    assert manifest["backbone"]["source"]["path"] == str(weights["backbone"])
    assert sha256_file(out / "vgg16_imagenet1k_v1.pth") == weights["backbone_sha"]
    assert [sha256_file(out / e["path"]) for e in manifest["pmodules"]] == weights["pmodule_shas"]
    assert weights["zip"].exists()  # a local archive is read in place, never deleted


@pytest.mark.slow
def test_fetch_backbone_hash_mismatch_keeps_only_verified_files(server, weights, out):
    backbone_url = server.add("/vgg16.pth", Route(file=weights["backbone"]))
    archive = Source(path=str(weights["zip"]))
    wrong = "0" * 64

    with pytest.raises(FetchError, match=rf"/vgg16.pth: sha256 mismatch: expected {wrong}, got {weights['backbone_sha']}"):
        fetch_weights(out, "pvgg16", backbone=Source(url=backbone_url, sha256=wrong), feedback_archive=archive, **FAST)

    # The predictors were verified before the backbone was fetched, so they stay; nothing else does.
    assert {p.name for p in out.iterdir()} == set(PMODULE_NAMES)


@pytest.mark.slow
def test_fetch_archive_truncated_by_server(server, weights, out):
    cut = weights["zip"].stat().st_size // 2
    backbone, archive = serve_weights(server, weights, limit=cut)

    with pytest.raises(FetchError, match=r"weights_pvgg16_imagenet.zip: not a readable zip archive .*Truncated or corrupt"):
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, **FAST)

    assert_nothing_left(out)
    assert server.requests(f"/{weights['hashed_backbone'].name}") == []  # failed before the big download


@pytest.mark.slow
def test_fetch_wrong_shape_in_archive(server, weights, out):
    backbone, archive = serve_weights(server, weights, archive="wrong_zip")

    with pytest.raises(FetchError) as info:
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, **FAST)

    message = str(info.value)
    assert f"PCoder 5 predictor weights/{PMODULE_NAMES[4]} from {archive.url} failed verification" in message
    assert "0.weight: file (512, 512, 3, 3) vs model (512, 512, 14, 14)" in message
    assert not (out / PMODULE_NAMES[4]).exists() and not (out / "manifest.json").exists()
    assert {p.name for p in out.iterdir()} == set(PMODULE_NAMES[:4])  # verified ones stay


@pytest.mark.slow
def test_fetch_refuses_checkpoint_that_runs_code(server, weights, out):
    backbone, archive = serve_weights(server, weights, archive="evil_zip")
    marker = weights["marker"]
    assert not marker.exists()

    with pytest.raises(FetchError, match=rf"PCoder 5 predictor .*{PMODULE_NAMES[4]}: refused to load"):
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, **FAST)

    assert not marker.exists()
    assert not (out / PMODULE_NAMES[4]).exists()
    # Control: the payload is live, so the assertion above could have failed.
    torch.load(weights["evil_file"], weights_only=False)
    assert marker.exists()
    marker.unlink()


@pytest.mark.slow
def test_fetch_archive_missing_a_member(server, weights, out):
    backbone, archive = serve_weights(server, weights, archive="missing_zip")

    with pytest.raises(FetchError) as info:
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=archive, **FAST)

    message = str(info.value)
    holds = ", ".join(f"weights/{name}" for name in PMODULE_NAMES[:3])
    assert f"missing {PMODULE_NAMES[3]}, {PMODULE_NAMES[4]}; the archive holds: {holds}" in message
    assert_nothing_left(out)


@pytest.mark.slow
def test_fetch_needs_a_way_to_verify_the_backbone(server, weights, tmp_path):
    url = server.add("/vgg16.pth", Route(file=weights["backbone"]))
    with pytest.raises(FetchError, match=r"/vgg16.pth: cannot verify the backbone: give its sha256"):
        fetch_weights(tmp_path, "pvgg16", backbone=Source(url=url), feedback_archive=Source(path=str(weights["zip"])))
    assert server.log == []


@pytest.mark.slow
def test_fetch_missing_local_source(weights, tmp_path):
    with pytest.raises(FetchError, match=r"nowhere.zip: feedback_archive file not found"):
        fetch_weights(
            tmp_path,
            "pvgg16",
            backbone=Source(path=str(weights["hashed_backbone"])),
            feedback_archive=Source(path=str(tmp_path / "nowhere.zip")),
        )


# ------------------------------------------------------------------ fetch_weights: the feedback archive


@pytest.mark.slow
def test_fetch_refuses_an_html_page_for_the_archive(server, weights, out):
    backbone, _ = serve_weights(server, weights)
    page = server.add("/share?dl=0", Route(data=b"<!DOCTYPE html><html></html>", content_type="text/html; charset=utf-8"))

    with pytest.raises(FetchError, match=r"dl=0: the server sent an HTML page .*\?dl=1"):
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=Source(url=page), **FAST)

    assert_nothing_left(out)


@pytest.mark.slow
def test_fetch_archive_404_is_not_retried(server, weights, out):
    backbone, _ = serve_weights(server, weights)
    absent = Source(url=server.url("/absent.zip"))

    with pytest.raises(FetchError, match=r"/absent.zip: HTTP error 404"):
        fetch_weights(out, "pvgg16", backbone=backbone, feedback_archive=absent, progress=False, retries=3)

    assert len(server.requests("/absent.zip")) == 1
    assert_nothing_left(out)


@pytest.mark.slow
def test_fetch_archive_with_a_doubled_member(weights, out, tmp_path):
    doubled = tmp_path / "doubled.zip"
    with zipfile.ZipFile(weights["zip"]) as good, zipfile.ZipFile(doubled, "w") as zf:
        for info in good.infolist():
            zf.writestr(info, good.read(info))
        zf.writestr(f"copy/{PMODULE_NAMES[2]}", good.read(f"weights/{PMODULE_NAMES[2]}"))

    with pytest.raises(FetchError, match=rf"doubled.zip: ambiguous.*{PMODULE_NAMES[2]} at weights/{PMODULE_NAMES[2]}, copy/"):
        fetch_weights(out, "pvgg16", backbone=Source(path=str(weights["hashed_backbone"])), feedback_archive=Source(path=str(doubled)), **FAST)

    assert_nothing_left(out)


@pytest.mark.slow
def test_fetch_archive_sha256_is_checked_when_given(weights, out):
    wrong = "1" * 64
    with pytest.raises(FetchError, match=rf"good.zip: sha256 mismatch: expected {wrong}"):
        fetch_weights(
            out, "pvgg16",
            backbone=Source(path=str(weights["hashed_backbone"])),
            feedback_archive=Source(path=str(weights["zip"]), sha256=wrong),
            **FAST,
        )
    assert_nothing_left(out)


def test_a_network_trained_here_has_nothing_to_fetch(tmp_path):
    with pytest.raises(ValueError, match=r"network 'mini' has no published weights to fetch .*networks with published weights: pefficientnet_b0, pvgg16"):
        fetch_weights(tmp_path, "mini")
    with pytest.raises(ValueError, match=r"unknown network 'vgg19'; known networks: mini, pefficientnet_b0, pvgg16"):
        fetch_weights(tmp_path, "vgg19")


# ------------------------------------------------------------------- the download fetch_weights runs

DATA = os.urandom(3 * (1 << 20) + 12345)  # several read chunks, not a whole number of them


def test_download_verifies_hash_and_progress_goes_to_stderr(server, tmp_path, capsys):
    url = server.add("/vgg16-x.pth", Route(data=DATA))
    dest = tmp_path / "file.pth"

    assert _download(url, dest, expected_sha256_prefix=sha(DATA)[:8], retries=0) == sha(DATA)

    assert dest.read_bytes() == DATA
    assert not dest.with_name("file.pth.part").exists()
    err = capsys.readouterr().err
    assert "file.pth" in err and "3.01M/3.01M" in err and "B/s" in err
    # Already there and matching: no new request.
    _download(url, dest, expected_sha256=sha(DATA), **FAST)
    assert len(server.log) == 1


@pytest.mark.parametrize("kind", ["full", "prefix"])
def test_download_hash_mismatch_deletes_everything(server, tmp_path, kind):
    url = server.add("/f.bin", Route(data=DATA))
    dest = tmp_path / "f.bin"
    expected = {"full": {"expected_sha256": "ab" * 32}, "prefix": {"expected_sha256_prefix": "abcdef01"}}[kind]
    shown = "ab" * 32 if kind == "full" else "a digest starting abcdef01"

    with pytest.raises(FetchError, match=rf"/f.bin: sha256 mismatch: expected {shown}, got {sha(DATA)}"):
        _download(url, dest, **expected, **FAST)

    assert list(tmp_path.iterdir()) == []


def test_download_404_is_not_retried(server, tmp_path):
    url = server.url("/absent.pth")
    with pytest.raises(FetchError, match=r"/absent.pth: HTTP error 404"):
        _download(url, tmp_path / "a.pth", progress=False, retries=3, retry_wait=0)
    assert len(server.log) == 1
    assert list(tmp_path.iterdir()) == []


def test_download_server_error_is_retried(server, tmp_path):
    url = server.add("/busy", Route(data=DATA, status=503))
    with pytest.raises(FetchError, match=r"/busy: download failed after 3 attempt\(s\): HTTP error 503"):
        _download(url, tmp_path / "b", progress=False, retries=2, retry_wait=0)
    assert len(server.log) == 3


def test_download_dropped_connection_after_retries(server, tmp_path):
    half = len(DATA) // 2
    url = server.add("/drop", Route(data=DATA, ranges=False, drop_after=half))
    dest = tmp_path / "drop.bin"

    with pytest.raises(FetchError) as info:
        _download(url, dest, expected_sha256=sha(DATA), progress=False, retries=2, retry_wait=0)

    message = str(info.value)
    assert message.startswith(f"{url}: download failed after 3 attempt(s)")
    assert f"connection dropped mid-file (truncated download): received {half} of {len(DATA)} bytes" in message
    assert len(server.log) == 3
    assert not dest.exists()
    assert dest.with_name("drop.bin.part").read_bytes() == DATA[:half]  # kept for a resume


def test_download_resumes_after_dropped_connection(server, tmp_path):
    half = len(DATA) // 2
    url = server.add("/flaky", Route(data=DATA, drop_after=half, drop_times=1))
    dest = tmp_path / "flaky.bin"

    with pytest.raises(FetchError, match=rf"received {half} of {len(DATA)} bytes"):
        _download(url, dest, expected_sha256=sha(DATA), **FAST)
    assert not dest.exists()

    _download(url, dest, expected_sha256=sha(DATA), **FAST)

    assert dest.read_bytes() == DATA
    second = server.log[1]
    assert (second["range"], second["status"], second["sent"]) == (f"bytes={half}-", 206, len(DATA) - half)


def test_download_resumes_within_one_call(server, tmp_path):
    half = len(DATA) // 2
    url = server.add("/flaky", Route(data=DATA, drop_after=half, drop_times=1))
    dest = tmp_path / "flaky.bin"

    _download(url, dest, expected_sha256=sha(DATA), progress=False, retries=1, retry_wait=0)

    assert dest.read_bytes() == DATA
    assert [(e["range"], e["status"]) for e in server.log] == [(None, 200), (f"bytes={half}-", 206)]


@pytest.mark.slow
def test_fetch_resumes_a_backbone_download_cut_short(server, weights, out):
    # The whole path: the first fetch keeps the backbone's .part, the second asks for the rest.
    backbone_file = weights["hashed_backbone"]
    half = backbone_file.stat().st_size // 2
    url = server.add(f"/{backbone_file.name}", Route(file=backbone_file, drop_after=half, drop_times=1))
    archive = Source(path=str(weights["zip"]))

    with pytest.raises(FetchError, match=rf"received {half} of {backbone_file.stat().st_size} bytes.*kept in .*\.part for a resume"):
        fetch_weights(out, "pvgg16", backbone=Source(url=url), feedback_archive=archive, **FAST)
    assert (out / "vgg16_imagenet1k_v1.pth.part").stat().st_size == half

    manifest = fetch_weights(out, "pvgg16", backbone=Source(url=url), feedback_archive=archive, **FAST)

    assert manifest["backbone"]["sha256"] == weights["backbone_sha"]
    assert [(e["range"], e["status"]) for e in server.requests(f"/{backbone_file.name}")] == [(None, 200), (f"bytes={half}-", 206)]


def test_download_restarts_when_server_ignores_range(server, tmp_path):
    url = server.add("/norange", Route(data=DATA, ranges=False))
    dest = tmp_path / "n.bin"
    dest.with_name("n.bin.part").write_bytes(b"stale bytes from elsewhere")

    _download(url, dest, expected_sha256=sha(DATA), **FAST)

    assert dest.read_bytes() == DATA
    assert [(e["range"], e["status"]) for e in server.log] == [("bytes=26-", 200)]


def test_download_restarts_when_part_is_not_resumable(server, tmp_path):
    url = server.add("/f", Route(data=DATA))
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(DATA + b"extra")  # longer than the file: 416

    _download(url, dest, expected_sha256=sha(DATA), **FAST)

    assert dest.read_bytes() == DATA
    assert [e["status"] for e in server.log] == [416, 200]


def test_download_timeout(server, tmp_path):
    url = server.add("/slow", Route(data=DATA, stall=5))
    with pytest.raises(FetchError, match=r"/slow: download failed after 1 attempt\(s\): timed out after 0.3 s"):
        _download(url, tmp_path / "s.bin", timeout=0.3, **FAST)
    assert not (tmp_path / "s.bin").exists()


def test_download_refuses_html_page(server, tmp_path):
    url = server.add("/share?dl=0", Route(data=b"<!DOCTYPE html><html></html>", content_type="text/html; charset=utf-8"))
    with pytest.raises(FetchError, match=r"dl=0: the server sent an HTML page .*\?dl=1"):
        _download(url, tmp_path / "w.zip", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_download_connection_refused(tmp_path):
    with FileServer() as s:
        url = s.url("/gone")
    with pytest.raises(FetchError, match=r"/gone: download failed after 1 attempt\(s\): could not connect"):
        _download(url, tmp_path / "g", **FAST)


# ----------------------------------------------------------------- the extraction fetch_weights runs


def _small_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, f"content of {name}")
    return path


def extracted(archive: Path, out_dir: Path, names: list[str] = PMODULE_NAMES, dest_names: list[str] | None = None) -> list[Path]:
    return [path for _, path in _extract_members(archive, out_dir, names, dest_names)]


def test_extract_finds_members_anywhere(tmp_path):
    archive = _small_zip(
        tmp_path / "a.zip",
        [f"deep/er/{n}" for n in PMODULE_NAMES[:2]] + PMODULE_NAMES[2:] + [f"__MACOSX/deep/._{PMODULE_NAMES[0]}"],
    )
    paths = extracted(archive, tmp_path / "out")
    assert paths == [tmp_path / "out" / n for n in PMODULE_NAMES]
    assert paths[0].read_text() == f"content of deep/er/{PMODULE_NAMES[0]}"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(PMODULE_NAMES)


def test_extract_renames_members_to_the_predictor_files(tmp_path):
    # An archive whose members are named otherwise (a record's `members`): stored under pcgc's names.
    members = [f"release/predictor_{n}.pth" for n in (1, 2)]
    archive = _small_zip(tmp_path / "a.zip", members)
    pairs = _extract_members(archive, tmp_path / "out", ["predictor_1.pth", "predictor_2.pth"], PMODULE_NAMES[:2])
    assert pairs == [(member, tmp_path / "out" / name) for member, name in zip(members, PMODULE_NAMES[:2])]
    assert pairs[1][1].read_text() == "content of release/predictor_2.pth"


def test_extract_refuses_doubled_name(tmp_path):
    archive = _small_zip(tmp_path / "a.zip", PMODULE_NAMES + [f"copy/{PMODULE_NAMES[2]}"])
    with pytest.raises(FetchError, match=rf"a.zip: ambiguous.*{PMODULE_NAMES[2]} at {PMODULE_NAMES[2]}, copy/"):
        extracted(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_refuses_non_zip_and_names_html(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(os.urandom(1000))
    with pytest.raises(FetchError, match=r"junk.zip: not a readable zip archive.*Truncated or corrupt"):
        extracted(junk, tmp_path / "out")
    page = tmp_path / "page.zip"
    page.write_text("<!DOCTYPE html><html><body>Dropbox</body></html>")
    with pytest.raises(FetchError, match=r"page.zip: not a readable zip archive.*HTML page"):
        extracted(page, tmp_path / "out")
    with pytest.raises(FetchError, match=r"absent.zip: archive not found"):
        extracted(tmp_path / "absent.zip", tmp_path / "out")


def test_extract_corrupt_member_leaves_nothing(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in PMODULE_NAMES:
            zf.writestr(name, "x" * 100 + name)
    raw = bytearray(archive.read_bytes())
    at = raw.index(("x" * 100 + PMODULE_NAMES[3]).encode())
    raw[at] ^= 0xFF  # the fourth member no longer matches its CRC
    archive.write_bytes(bytes(raw))
    with pytest.raises(FetchError, match=rf"a.zip: cannot extract {PMODULE_NAMES[3]}.*CRC"):
        extracted(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------------------------------ sources


def test_the_records_sources_are_the_published_ones():
    from torchvision.models import VGG16_Weights

    record = NETWORKS["pvgg16"]
    sources = published_sources(record)
    backbone, archive = sources["backbone"], sources["feedback_archive"]
    assert backbone.url == VGG16_Weights.IMAGENET1K_V1.url  # the record follows torchvision's own
    assert sha256_prefix_from_name(backbone.file_name()) == "397923af"
    assert archive.url.startswith("https://www.dropbox.com/")
    assert archive.file_name() == record.weights.feedback_archive.file == "weights_pvgg16_imagenet.zip"
    assert archive.url.endswith("?dl=1")  # the file, not Dropbox's preview page
    assert backbone.sha256 is None and archive.sha256 is None  # neither publisher gives a full digest
    assert published_sources(NETWORKS["mini"]) == {"backbone": None, "feedback_archive": None}


def test_source_validation():
    with pytest.raises(ValueError, match="exactly one of url and path"):
        Source()
    with pytest.raises(ValueError, match="exactly one of url and path"):
        Source(url="https://x/y", path="/y")
    with pytest.raises(ValueError, match="scheme 'ftp'"):
        Source(url="ftp://x/y")
    with pytest.raises(ValueError, match="64 hex digits"):
        Source(path="/y", sha256="397923af")
    assert Source.parse("/data/vgg16-397923af.pth") == Source(path="/data/vgg16-397923af.pth")
    assert Source.parse("file:///data/w.zip").local_path() == Path("/data/w.zip")
    assert Source.parse("https://h/w.zip?dl=1").local_path() is None
    assert sha256_prefix_from_name("vgg16.pth") is None


def test_verification_refuses_other_dtype(tmp_path):
    from pcgc.storage.fetch import _skeleton, _verify_checkpoint

    pmodule = _skeleton(NETWORKS["pvgg16"]).pmodules[0]
    path = tmp_path / PMODULE_NAMES[0]
    torch.save({"weight": torch.zeros(64, 3, 5, 5, dtype=torch.float64), "bias": torch.zeros(3)}, path)
    with pytest.raises(FetchError, match=rf"PCoder 1 failed verification: .*{path.name}: tensor dtypes do not match: weight: file torch.float64 vs model torch.float32"):
        _verify_checkpoint(pmodule, path, "PCoder 1")
    torch.save({"weight": torch.zeros(64, 3, 5, 5), "bias": torch.zeros(3)}, path)
    _verify_checkpoint(pmodule, path, "PCoder 1")
