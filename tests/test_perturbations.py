"""Perturbation labels (the paths of a branch's files) and columns (its identity in the tables)."""

from __future__ import annotations

import re

import pytest

from pcgc.spec.perturbations import WILDCARD, Perturbation, sigma_label


@pytest.mark.parametrize(
    "perturbation, label, columns",
    [
        (Perturbation.noise(0.0), "sigma0", {"sigma": 0.0}),
        (Perturbation.noise(0.25), "sigma0.25", {"sigma": 0.25}),
        (Perturbation.noise(1e-7), "sigma1e-07", {"sigma": 1e-7}),
        (Perturbation.corruption("fog", 3), "corruptions/fog/severity3", {"family": "fog", "severity": 3}),
        (Perturbation.corruption("jpeg_compression", 5), "corruptions/jpeg_compression/severity5", {"family": "jpeg_compression", "severity": 5}),
    ],
)
def test_labels_round_trip_and_match_the_wildcard(perturbation, label, columns):
    assert perturbation.label == label
    assert Perturbation.parse(label) == perturbation
    assert perturbation.columns() == columns
    assert re.fullmatch(WILDCARD, label)


def test_noise_labels_are_those_pcgc_always_wrote():
    for sigma in (0.0, 0.2, 0.4, 0.6, 1.5):
        assert Perturbation.noise(sigma).label == f"sigma{sigma_label(sigma)}" == f"sigma{sigma:g}"


@pytest.mark.parametrize(
    "label", ["sigma", "sigmax", "corruptions/smoke/severity1", "corruptions/fog/severity6", "fog/severity1", "sigma0/extra"]
)
def test_other_text_names_no_perturbation(label):
    with pytest.raises(ValueError, match="names no perturbation"):
        Perturbation.parse(label)


def test_a_perturbation_is_one_thing():
    with pytest.raises(ValueError, match="a noise level or a corruption"):
        Perturbation(sigma=0.1, family="fog", severity=1)
    with pytest.raises(ValueError, match="unknown corruption family 'smoke'"):
        Perturbation.corruption("smoke", 1)
    with pytest.raises(ValueError, match=">= 0"):
        Perturbation.noise(-0.1)


def test_descriptions():
    assert Perturbation.noise(0).describe() == "clean images"
    assert Perturbation.noise(0.4).describe() == "Gaussian noise σ = 0.4"
    assert Perturbation.corruption("motion_blur", 2).describe() == "motion blur, severity 2"
