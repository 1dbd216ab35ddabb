"""Reading a real /metrics endpoint: samples by name and labels, and deltas between scrapes."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, labels: Mapping[str, str] | None = None) -> float:
    """A sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset((labels or {}).items())), 0.0)


def delta(
    before: Samples, after: Samples, name: str, labels: Mapping[str, str] | None = None
) -> float:
    return value(after, name, labels) - value(before, name, labels)
