"""Properties of what lands in log lines and who may scrape (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aegntix.observability.serving import may_scrape
from aegntix.server.observe import SAFE_REQUEST_ID, request_id


@given(st.binary(max_size=200))
def test_a_request_id_is_always_safe_to_log(given_id: bytes) -> None:
    """Whatever a client sends as X-Request-ID, the id logged and echoed is tame, and a tame
    one is kept as sent."""
    rid = request_id({"headers": [(b"x-request-id", given_id)]})
    assert SAFE_REQUEST_ID.fullmatch(rid)
    text = given_id.decode("latin-1")
    if SAFE_REQUEST_ID.fullmatch(text):
        assert rid == text


@given(
    st.text(min_size=1, max_size=40),
    st.text(max_size=60),
    st.sampled_from(["127.0.0.1", "::1", "10.0.0.7", "203.0.113.9", None]),
)
def test_with_a_token_only_it_reads(token: str, header: str, peer: str | None) -> None:
    token = token.strip() or "t"
    allowed = may_scrape(header, peer, token)
    scheme, _, given_token = header.partition(" ")
    assert allowed == (scheme.lower() == "bearer" and given_token.strip() == token)
