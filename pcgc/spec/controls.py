"""The controls of the feedback: named conditions that run beside the real dynamics.

Each control answers one question about where a change of the Grad-CAMs over timesteps comes from
(docs/mechanism.md):

* `no_feedback`: beta as configured, lambda = alpha = 0, so that

      rep_n(t) = beta_n ff_n(t) + (1 - beta_n) rep_n(t-1)

  is memory only: what recurrence without predictions does.
* `random_feedback`: the predictors' weights replaced by random ones with the same mean and
  standard deviation per parameter tensor, seeded; the backbone untouched
  (`pcgc.compute.controls.randomized_predictors`). Trained predictions against untrained ones
  (Adebayo et al., NeurIPS 2018, applied to the feedback path).
* `shuffled_feedback`: the feedback term lambda_n prd_{n+1}(t-1) of image i taken from image
  pi(i), pi a fixed derangement (`feedback_partners`): trained predictions, of the wrong image.

A `Control` says what it changes: the coefficients (a pure function of `HyperParameters`), the
predictors, the source of the feedback. Adding a control is one entry of `CONTROLS`. Torch-free:
the Snakefile plans the conditions with it.

The shuffled feedback's permutation must not depend on how images are batched, or
`extraction.batch_size` would change results. So images are cut, in their order in the input file,
into groups of `group` consecutive images (a last group of one image joins the one before it), pi
is a random cyclic permutation within each group (Sattolo's algorithm, seeded by the seed and the
group's index: every image gets another image's feedback), and an image batch is always made of
whole groups (`batch_bounds`). A run of one image has no other image and is refused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from pcgc.spec.hyperparameters import HyperParameters

TRAINED = "trained"
"""The condition name of the real dynamics (trained predictors, own feedback)."""


def no_feedback(hps: HyperParameters) -> HyperParameters:
    """The same beta, lambda = alpha = 0: rep_n(t) = beta_n ff_n(t) + (1 - beta_n) rep_n(t-1)."""
    zeros = (0.0,) * hps.num_pcoders
    return HyperParameters(hps.beta, zeros, zeros)


def _same(hps: HyperParameters) -> HyperParameters:
    return hps


@dataclass(frozen=True)
class Control:
    """A named condition: what it changes relative to the real dynamics."""

    name: str
    question: str
    coefficients: Callable[[HyperParameters], HyperParameters] = _same
    random_predictors: bool = False
    shuffled_feedback: bool = False


CONTROLS: dict[str, Control] = {
    c.name: c
    for c in (
        Control("no_feedback", "does memory alone (beta < 1, no predictions) move the maps?", coefficients=no_feedback),
        Control("random_feedback", "do untrained predictions of the same scale move the maps as much?", random_predictors=True),
        Control("shuffled_feedback", "do trained predictions of another image move the maps as much?", shuffled_feedback=True),
    )
}

CONDITIONS = (TRAINED, *CONTROLS)


def check_conditions(names: list[str], where: str) -> None:
    """Stop with the offending name when a condition is unknown or repeated."""
    for name in names:
        if name not in CONTROLS:
            raise ValueError(f"{where}: {name!r} is not a control; the controls are {', '.join(CONTROLS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: {names} names a control twice")


def feedback_groups(count: int, group: int) -> list[tuple[int, int]]:
    """[start, stop) of the groups of consecutive images within which the feedback is shuffled:
    `group` images each, a last group of one image joined to the one before."""
    if group < 2:
        raise ValueError(f"shuffled feedback: group must be >= 2 (an image needs another), got {group}")
    if count < 2:
        raise ValueError(f"shuffled feedback needs at least 2 images, got {count}")
    bounds = [(start, min(start + group, count)) for start in range(0, count, group)]
    if bounds[-1][1] - bounds[-1][0] == 1:  # count >= 2 and group >= 2: a group precedes it
        bounds.pop()
        bounds[-1] = (bounds[-1][0], count)
    return bounds


def feedback_partners(count: int, group: int, seed: int) -> list[int]:
    """pi: image i (position in the input file) takes its feedback from image pi[i]. A random
    cycle through each group (Sattolo), so pi[i] != i and pi[i] lies in i's group."""
    partners = list(range(count))
    for index, (start, stop) in enumerate(feedback_groups(count, group)):
        members = list(range(start, stop))
        rng = random.Random(f"shuffled_feedback:{seed}:{index}")
        # Sattolo's algorithm: a uniformly random permutation with a single cycle.
        for i in range(len(members) - 1, 0, -1):
            j = rng.randrange(i)
            members[i], members[j] = members[j], members[i]
        for position, partner in zip(range(start, stop), members):
            partners[position] = partner
    return partners


def batch_bounds(count: int, batch_size: int, group: int | None) -> list[tuple[int, int]]:
    """[start, stop) of the image batches: `batch_size` images each, or, with a shuffle `group`,
    whole groups packed up to `batch_size` images (at least one group per batch)."""
    if group is None:
        return [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    out: list[tuple[int, int]] = []
    for start, stop in feedback_groups(count, group):
        if out and stop - out[-1][0] <= batch_size:
            out[-1] = (out[-1][0], stop)
        else:
            out.append((start, stop))
    return out
