"""The torch-free catalogue of ImageNet-C families (pcgc.spec.corruptions)."""

from __future__ import annotations

import pytest

from pcgc.spec.corruptions import (
    DETERMINISTIC_FAMILIES,
    FAMILIES,
    FROST_TEXTURES,
    GROUPS,
    RANDOM_FAMILIES,
    SEVERITIES,
    check_requests,
    validate,
)

# Hendrycks & Dietterich's fifteen, then imagecorruptions' four validation families, by group.
EXPECTED_GROUPS = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur"),
    "weather": ("snow", "frost", "fog", "spatter"),
    "digital": ("brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"),
}


def test_nineteen_families_in_four_groups():
    assert dict(GROUPS) == EXPECTED_GROUPS
    assert len(FAMILIES) == 19
    assert all(FAMILIES[name].group == group for group, names in GROUPS.items() for name in names)
    assert SEVERITIES == (1, 2, 3, 4, 5)


def test_random_and_deterministic_families_partition_the_catalogue():
    assert set(RANDOM_FAMILIES) | set(DETERMINISTIC_FAMILIES) == set(FAMILIES)
    assert not set(RANDOM_FAMILIES) & set(DETERMINISTIC_FAMILIES)
    # The families whose imagecorruptions implementation draws from np.random.
    assert set(RANDOM_FAMILIES) == {
        "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
        "snow", "frost", "fog", "spatter", "elastic_transform",
    }


def test_only_frost_needs_assets():
    assert {name: f.assets for name, f in FAMILIES.items() if f.assets} == {"frost": FROST_TEXTURES}
    assert len(FROST_TEXTURES) == 5


def test_validate_returns_the_record():
    assert validate("fog", 3).group == "weather"


@pytest.mark.parametrize(
    "family, severity, message",
    [
        ("gaussian_nosie", 1, r"unknown corruption family 'gaussian_nosie'"),
        ("fog", 0, r"severity 0 of 'fog' is not an integer in 1-5"),
        ("fog", 6, r"severity 6 of 'fog'"),
        ("fog", 2.0, r"severity 2.0 of 'fog'"),
        ("fog", True, r"severity True of 'fog'"),
        ("fog", "3", r"severity '3' of 'fog'"),
        (None, 3, r"unknown corruption family None"),
    ],
)
def test_bad_requests_name_the_family_and_severity(family, severity, message):
    with pytest.raises(ValueError, match=message):
        validate(family, severity)


def test_check_requests_reports_every_error_at_once_with_its_position():
    with pytest.raises(ValueError) as info:
        check_requests([("fog", 1), ("smoke", 2), ("snow", 9), ("fog", 1)], where="corruptions")
    text = str(info.value)
    assert "corruptions[1]: unknown corruption family 'smoke'" in text
    assert "corruptions[2]: severity 9 of 'snow'" in text
    assert "corruptions[3]: fog at severity 1 is listed twice" in text
    assert check_requests([("fog", 1), ("snow", 5)]) == [("fog", 1), ("snow", 5)]


def test_the_catalogue_imports_no_torch():
    import ast
    from pathlib import Path

    import pcgc.spec.corruptions as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "dataclasses", "importlib", "pathlib", "typing"}
