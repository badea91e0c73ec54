"""Sweep grids, their configurations and how they are split into chunks (pcgc.spec.sweeps)."""

from __future__ import annotations

import numpy as np
import pytest

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.sweeps import (
    chunk_name,
    existing_chunks,
    grid_values,
    image_subset,
    manifest_text,
    plan_chunks,
    read_manifest,
    sweep_cells,
    unique_configurations,
)

FEEDBACK = (True, True, True, True, False)
TENTHS = {"start": 0.0, "stop": 1.0, "step": 0.1}


def sweep(kind="single_pcoder", beta=TENTHS, lam=TENTHS, **extra):
    entry = {"kind": kind, "beta": beta, "lambda": lam, "alpha": 0.01, "sigmas": [0.0]}
    if kind == "single_pcoder":
        entry["pcoders"] = [1, 2, 3, 4, 5]
    entry.update(extra)
    return entry


def test_ranges_are_exact_decimals():
    assert grid_values(TENTHS) == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert grid_values({"start": 0, "stop": 1, "step": 0.3}) == (0.0, 0.3, 0.6, 0.9)
    assert grid_values([0.25, 0.5]) == (0.25, 0.5)


@pytest.mark.parametrize("bad", [[], [0.5, 0.25], [0.5, 0.5], {"start": 0, "stop": 1, "step": 0}, {"start": 1, "stop": 0, "step": 0.5}])
def test_bad_grids_are_refused(bad):
    with pytest.raises(ValueError, match="grid"):
        grid_values(bad)


def test_the_papers_figure_3_grid():
    cells = sweep_cells(sweep(), FEEDBACK)
    assert len(cells) == 5 * 66  # beta + lambda <= 1 on the 0.1 grid: 66 of 121 cells per PCoder
    assert all(cell.beta + cell.lam <= 1 + 1e-9 for cell in cells)
    assert any(cell.beta == 0.7 and cell.lam == 0.3 for cell in cells)
    cell = next(c for c in cells if c.pcoder == 3 and c.beta == 0.4 and c.lam == 0.5)
    assert cell.configuration == HyperParameters((1, 1, 0.4, 1, 1), (0, 0, 0.5, 0, 0), (0, 0, 0.01, 0, 0))
    # The top PCoder ignores lambda: its 66 cells are 11 configurations.
    configurations = unique_configurations(cells)
    assert len(configurations) == 4 * 66 + 11
    top = [c for c in cells if c.pcoder == 5 and c.beta == 0.2]
    assert len(top) == 9 and len({c.configuration.key for c in top}) == 1


def test_the_papers_figure_4_grid():
    cells = sweep_cells(sweep("shared"), FEEDBACK)
    assert len(cells) == len(unique_configurations(cells)) == 66
    cell = next(c for c in cells if c.beta == 0.4 and c.lam == 0.5)
    assert cell.pcoder is None
    assert cell.configuration == HyperParameters((0.4,) * 5, (0.5, 0.5, 0.5, 0.5, 0.0), (0.01,) * 5)


def test_a_pcoder_outside_the_network_is_refused():
    with pytest.raises(ValueError, match="PCoder 6 is not in 1..5"):
        sweep_cells(sweep(pcoders=[6]), FEEDBACK)


def configurations(n: int, offset: int = 0) -> list[HyperParameters]:
    return [HyperParameters((0.1 * ((i + offset) % 10),), (0.01 * (i + offset),), (0.01,)) for i in range(n)]


def test_a_first_plan_splits_in_order():
    wanted = configurations(7)
    plan = plan_chunks(wanted, {}, 3)
    assert [len(chunk) for chunk in plan.values()] == [3, 3, 1]
    assert [c for chunk in plan.values() for c in chunk] == wanted
    assert list(plan) == [chunk_name(chunk) for chunk in plan.values()]


def test_changing_the_chunk_size_keeps_every_finished_chunk():
    wanted = configurations(7)
    finished = plan_chunks(wanted, {}, 3)
    assert plan_chunks(wanted, finished, 2) == finished
    assert plan_chunks(wanted, finished, 100) == finished


def test_a_new_grid_row_adds_only_chunks_of_the_new_configurations():
    old = configurations(7)
    finished = plan_chunks(old, {}, 3)
    new = configurations(4, offset=50)
    plan = plan_chunks(old[:4] + new + old[4:], finished, 3)
    added = {name: chunk for name, chunk in plan.items() if name not in finished}
    assert set(finished) <= set(plan)
    assert [c for chunk in added.values() for c in chunk] == new


def test_replanning_after_some_chunks_finished_gives_the_same_chunks():
    """What a cluster job sees when it parses the workflow while other chunks are done."""
    wanted = configurations(11)
    first = plan_chunks(wanted, {}, 3)
    names = list(first)
    for done in ([names[0]], [names[1]], [names[3]], [names[1], names[2]]):
        replanned = plan_chunks(wanted, {name: first[name] for name in done}, 3)
        assert replanned == first


def test_chunks_that_overlap_are_used_once():
    wanted = configurations(6)
    existing = {"a": tuple(wanted[:4]), "b": tuple(wanted[2:5]), "c": tuple(wanted[1:3])}
    plan = plan_chunks(wanted, existing, 10)
    assert list(plan)[:2] == ["a", "b"]  # c covers nothing new
    assert [c for c in plan[list(plan)[2]]] == [wanted[5]]


def test_a_chunk_with_configurations_no_longer_wanted_still_covers_the_others():
    wanted = configurations(4)
    existing = {"old": (wanted[0], HyperParameters((0.9,), (0.05,), (0.5,)), wanted[1])}
    plan = plan_chunks(wanted, existing, 2)
    assert list(plan)[0] == "old" and [c for chunk in list(plan.values())[1:] for c in chunk] == wanted[2:]


def test_manifests_round_trip_and_only_finished_chunks_count(tmp_path):
    chunk = tuple(configurations(3))
    (tmp_path / "abc.json").write_text(manifest_text(chunk))
    assert read_manifest(tmp_path / "abc.json") == chunk
    assert existing_chunks(tmp_path) == {}  # no abc.h5 yet
    (tmp_path / "abc.h5").write_bytes(b"")
    assert existing_chunks(tmp_path) == {"abc": chunk}
    assert existing_chunks(tmp_path / "missing") == {}
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "bad.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="bad.json: not a sweep chunk manifest"):
        existing_chunks(tmp_path)


def test_image_subset():
    np.testing.assert_array_equal(image_subset(5, "all", 0), np.arange(5))
    subset = image_subset(100, 10, 3)
    assert len(subset) == 10 and list(subset) == sorted(set(subset.tolist()))
    np.testing.assert_array_equal(subset, image_subset(100, 10, 3))
    assert not np.array_equal(subset, image_subset(100, 10, 4))
    with pytest.raises(ValueError, match="n_images: 101"):
        image_subset(100, 101, 0)
