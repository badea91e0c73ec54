import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.figures.fig2 import plot_iou_over_time


def _summaries():
    rng = np.random.default_rng(0)
    return {
        "hps_0": bootstrap_timesteps(rng.random((20, 11)), resamples=50, seed=0),
        "hps_1": bootstrap_timesteps(rng.random((20, 11)) * 0.8, resamples=50, seed=0),
    }


@pytest.mark.parametrize("error", ["boot_sd", "ci"])
def test_writes_png_and_pdf(tmp_path, error):
    png = tmp_path / "out" / "fig2.png"
    pdf = tmp_path / "out" / "fig2.pdf"
    plot_iou_over_time(_summaries(), [png, pdf], title="Figure 2", error=error)

    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    with Image.open(png) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width > 100 and image.height > 100
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.5)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fig2.pdf", "fig2.png"]


def test_pdf_is_reproducible(tmp_path):
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    plot_iou_over_time(_summaries(), [first], title="t")
    plot_iou_over_time(_summaries(), [second], title="t")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("column, error", [("mean", "boot_sd"), ("boot_sd", "boot_sd"), ("ci_high", "ci")])
def test_missing_column_names_column_and_set(tmp_path, column, error):
    summaries = _summaries()
    summaries["hps_1"] = summaries["hps_1"].drop(columns=[column])
    out = tmp_path / "fig.png"
    with pytest.raises(ValueError, match=rf"'hps_1'.*'{column}'"):
        plot_iou_over_time(summaries, [out], title="t", error=error)
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_raises_before_writing(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        plot_iou_over_time(_summaries(), [tmp_path / "a.png", tmp_path / "fig.svgz"], title="t")
    assert list(tmp_path.iterdir()) == []


def test_non_finite_mean_raises(tmp_path):
    summaries = _summaries()
    summaries["hps_0"].loc[3, "mean"] = np.nan
    with pytest.raises(ValueError, match="'hps_0'.*non-finite.*'mean'"):
        plot_iou_over_time(summaries, [tmp_path / "a.png"], title="t")


def test_failed_save_leaves_no_temp_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_iou_over_time(_summaries(), [tmp_path / "a.png"], title="t")
    assert list(tmp_path.iterdir()) == []


def test_accepts_plain_dataframes(tmp_path):
    frame = pd.DataFrame({"timestep": [2, 0, 1], "mean": [0.3, 0.1, 0.2], "boot_sd": [0.01, 0.02, 0.0]})
    plot_iou_over_time({"only": frame}, [tmp_path / "a.png"], title="t", ylabel="IoU")
    assert (tmp_path / "a.png").stat().st_size > 0
