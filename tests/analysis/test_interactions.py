from __future__ import annotations

import numpy as np

from intermodal.analysis import TYPES, interaction_types


def test_each_type_from_a_constructed_case() -> None:
    p = np.array
    cases = {
        "redundancy (enhanced)": (p([0.6, 0.4]), p([0.6, 0.4]), p([0.95, 0.05])),
        "redundancy (equivalent)": (p([0.8, 0.2]), p([0.7, 0.3]), p([0.8, 0.2])),
        "emergence": (p([0.6, 0.3, 0.1]), p([0.6, 0.3, 0.1]), p([0.1, 0.2, 0.7])),
        "independence": (p([0.9, 0.1]), p([0.2, 0.8]), p([0.55, 0.45])),
        "dominance (modality 1)": (p([0.9, 0.1]), p([0.4, 0.6]), p([0.88, 0.12])),
        "dominance (modality 2)": (p([0.6, 0.4]), p([0.05, 0.95]), p([0.1, 0.9])),
        "modulation": (p([0.55, 0.45]), p([0.4, 0.6]), p([0.95, 0.05])),
    }
    width = 3
    pad = lambda v: np.pad(v, (0, width - len(v)))  # noqa: E731
    p1 = np.stack([pad(c[0]) for c in cases.values()])
    p2 = np.stack([pad(c[1]) for c in cases.values()])
    p12 = np.stack([pad(c[2]) for c in cases.values()])
    result = interaction_types(p1, p2, p12, target=np.zeros(len(cases), int))
    assert result.types.tolist() == list(cases)
    assert result.summary["type"].tolist() == list(TYPES)
    assert result.summary["count"].sum() == len(cases)
    emergence = result.summary.set_index("type").loc["emergence"]
    assert emergence["examples"] == [2] and emergence["fused_accuracy"] == 0.0
