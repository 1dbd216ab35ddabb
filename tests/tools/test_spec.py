"""``tools:`` in a scenario file: what validates, and each mistake named with its line."""

from __future__ import annotations

import pytest

from aegntix.errors import ScenarioInvalid
from aegntix.model.loading import check_text
from aegntix.model.scenario import Scenario
from aegntix.model.tools import allow_list, allowed

BASE = """\
name: t
world: {price: 0}
termination: {max_steps: 2}
agents:
  - {id: a, name: A, role: trader, actions: [quote], tools: ["market.*"]}
  - {id: b, name: B, role: trader}
tools:
  servers:
    market: {command: python, args: [m.py], env: {TOKEN: "secret:MARKET_TOKEN"}, timeout_s: 5}
    news: {url: "http://127.0.0.1:9000/mcp", headers: {Authorization: "secret:NEWS_AUTH"}}
  max_result_chars: 500
actions:
  quote: {tool: market.get_price, arguments: {symbol: ACME}, into: price}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as caught:
        check_text(text, source="s.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_valid_declaration_round_trips() -> None:
    scenario = check_text(BASE, source="s.yaml").scenario
    assert scenario.tools is not None
    assert scenario.tools.servers["market"].secrets() == ["MARKET_TOKEN"]
    assert scenario.tools.servers["news"].secrets() == ["NEWS_AUTH"]
    assert allow_list(scenario, "a") == ["market.*"]
    assert allow_list(scenario, "b") == ["*"]  # the default
    assert allowed(["market.*"], "market.get_price") and not allowed(["market.*"], "news.x")
    stored = scenario.model_dump(mode="json")
    assert stored["tools"]["servers"]["market"]["env"] == {"TOKEN": "secret:MARKET_TOKEN"}
    assert Scenario.model_validate(stored) == scenario


def test_no_tools_keeps_the_stored_spec_as_before() -> None:
    text = "name: t\ntermination: {max_steps: 2}\nagents:\n  - {id: a, name: A, role: r}\n"
    text += "world: {n: 0}\nactions:\n  go: {effects: {n: n + 1}}\n"
    stored = check_text(text, source="s.yaml").scenario.model_dump(mode="json")
    assert "tools" not in stored and "tools" not in stored["agents"][0]
    assert set(stored["actions"]["go"]) == {"description", "effects", "once", "keywords"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('tools: ["market.*"]', 'tools: ["weather.*"]'),
            "s.yaml:5: agents.0.tools.0: unknown tool server in 'weather.*' "
            "(servers: market, news)",
        ),
        (
            ('tools: ["market.*"]', 'tools: ["market"]'),
            "s.yaml:5: agents.0.tools.0: 'market' is not '*', 'server.*' or 'server.tool'",
        ),
        (
            ("{command: python, args: [m.py]", '{command: python, url: "http://x", args: [m.py]'),
            "s.yaml:9: tools.servers.market: set either 'command'",
        ),
        (
            ('"secret:MARKET_TOKEN"', '"secret:market token"'),
            "s.yaml:9: tools.servers.market.env: env 'TOKEN': a secret reference",
        ),
        (
            ("    news:", "    bad.name:"),
            "s.yaml:10: tools.servers.bad.name",
        ),
        (
            ("into: price}", "into: cost}"),
            "s.yaml:13: actions.quote.into: 'cost' is not a world key",
        ),
        (
            ("tool: market.get_price", "tool: market.*"),
            "s.yaml:13: actions.quote.tool: an action calls one tool: name it 'server.tool'",
        ),
        (
            ('tools: ["market.*"]', 'tools: ["news.*"]'),
            "s.yaml:5: agents.0.actions: action 'quote' calls market.get_price, which agent 'a' "
            "may not use",
        ),
    ],
)
def test_mistakes_are_named_with_their_line(change: tuple[str, str], expected: str) -> None:
    found = problems(BASE.replace(*change))
    assert any(p.startswith(expected) for p in found), found


def test_a_credential_written_out_is_refused_without_repeating_it() -> None:
    text = BASE.replace('{Authorization: "secret:NEWS_AUTH"}', '{Authorization: "Bearer abc123"}')
    (found,) = problems(text)
    assert found.startswith("s.yaml:10: tools.servers.news.headers: header 'Authorization' holds")
    assert "abc123" not in found
    text = BASE.replace('{TOKEN: "secret:MARKET_TOKEN"}', '{API_KEY: "k-998", LEVEL: "3"}')
    (found,) = problems(text)
    assert "env 'API_KEY' holds a credential" in found and "k-998" not in found
