"""Random streams: every draw comes from a numpy ``SeedSequence`` child of the spec's seed.

The tree, fixed so that the same ``(seed, stream, index)`` always gives the same numbers however
many other scenarios are generated, and so that streams never share a child::

    SeedSequence(seed)
      .spawn -> [0] optimizer, [1] held_out          (STREAMS)
        .spawn -> [i] scenario i
          .spawn -> [c] component c                    (COMPONENTS: load, grid events, PV, ...)

``SeedSequence(seed, spawn_key=(s, i, c))`` is exactly the child that ``spawn`` would hand out
at that position, so a child is built directly, without spawning its elder siblings.
"""

from __future__ import annotations

import numpy as np

STREAMS = {"optimizer": 0, "held_out": 1}
COMPONENTS = {
    "load": 0,  # training jobs, inference, measured-trace bootstrap
    "events": 1,  # natural-rate curtailment, loss of grid, sags
    "contingency": 2,  # the one loss of grid and sag sequence every trace carries
    "pv": 3,
    "calendar": 4,  # the trace's start day in the year
    "energy": 5,  # the synthetic year of the energy layer
}


def stream_id(stream: str) -> int:
    try:
        return STREAMS[stream]
    except KeyError:
        raise ValueError(f"stream must be one of {sorted(STREAMS)}, got {stream!r}") from None


def seed_sequence(seed: int, stream: str, index: int, component: str, *more: int) -> np.random.SeedSequence:
    """The SeedSequence of one component of one scenario of one stream."""
    return np.random.SeedSequence(int(seed), spawn_key=(stream_id(stream), int(index), COMPONENTS[component], *more))


def generator(seed: int, stream: str, index: int, component: str, *more: int) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(seed, stream, index, component, *more))


def child(ss: np.random.SeedSequence, *keys: int) -> np.random.Generator:
    """A generator for a sub-part (e.g. job j) of a component, independent of its siblings."""
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *keys)))
