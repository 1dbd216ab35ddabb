"""Brain configuration: per scenario, overridable per agent, validated."""

from __future__ import annotations

import pytest

from aegntix.errors import ScenarioInvalid
from aegntix.model.loading import parse_scenario
from aegntix.model.scenario import BrainConfig, Scenario

BASE = """\
name: s
termination: {max_steps: 1}
brain: {provider: openai, model: gpt-x, base_url: "http://localhost:11434/v1", temperature: 0.3}
agents:
  - {id: a, name: A, role: r}
  - {id: b, name: B, role: r, brain: {model: other}}
  - {id: c, name: C, role: r, brain: {kind: rules}}
"""


def test_agents_override_only_what_they_set_even_after_storage():
    scenario = parse_scenario(BASE)
    stored = Scenario.model_validate(scenario.model_dump(mode="json"))  # as the runner reads it
    for s in (scenario, stored):
        a, b, c = (s.brain_for(x) for x in s.agents)
        assert (a.kind, a.model, a.temperature) == ("openai", "gpt-x", 0.3)
        assert (b.kind, b.model, b.temperature, b.base_url) == (
            "openai", "other", 0.3, "http://localhost:11434/v1",
        )  # fmt: skip
        assert c.kind == "rules"
    assert scenario.model_dump(mode="json")["agents"][1]["brain"] == {"model": "other"}


def test_a_model_is_required_for_model_backed_brains():
    with pytest.raises(ScenarioInvalid, match="agent 'a': a 'anthropic' brain needs a 'model'"):
        parse_scenario(BASE.replace("provider: openai, model: gpt-x", "provider: anthropic"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("base_url", "ftp://x"), ("temperature", 3), ("kind", "gemini"), ("concurrency", 0)],
)
def test_bad_values_are_refused(field: str, value: object):
    with pytest.raises(ValueError):
        BrainConfig.model_validate({"kind": "openai", "model": "m", field: value})


def test_the_rules_default_is_unchanged():
    assert BrainConfig().kind == "rules" and BrainConfig().model_dump() == {}


def test_the_ollama_example_runs_against_an_openai_compatible_server(store, fake, monkeypatch):
    """examples/negotiation-llm.yaml, pointed at the fake instead of a local Ollama."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/secrets.env")
    from aegntix.engine import start_scenario
    from aegntix.model.loading import load_scenario
    from tests.brains.llm.support import decisions, run
    from tests.support import EXAMPLES

    data = load_scenario(EXAMPLES / "negotiation-llm.yaml").model_dump(mode="json")
    assert data["brain"]["base_url"] == "http://localhost:11434/v1"
    data["brain"]["base_url"] = fake.openai_url
    branch = start_scenario(store, Scenario.model_validate(data))
    run(store, branch.id, 2)
    assert fake.count == 4  # seller and buyer ask the model; the mediator uses rules
    assert {r.json["model"] for r in fake.requests} == {"llama3.1:8b"}
    assert fake.requests[0].headers["authorization"] == "Bearer no-key"
    assert {e.agent_id for e in decisions(list(store.events(branch.id)))} == {"seller", "buyer"}
