"""The views that show personal data answer only with the API token, and the same way for every user without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from streams.security.api_auth import ApiGuard


@dataclass
class FakeRequest:
    headers: dict[str, str] = field(default_factory=dict)


class FakeView:
    def json(self, value: Any, *, status: int = 200, headers: Any = None) -> tuple[int, Any, Any]:
        return status, value, headers


PROFILES = {"u-known": {"orders": 3}}


def profiles_view() -> Any:
    looked_up: list[str] = []

    async def view(web: FakeView, request: FakeRequest, user_id: str) -> Any:
        looked_up.append(user_id)
        profile = PROFILES.get(user_id)
        return web.json(profile, status=200) if profile else web.json({"error": "no profile"}, status=404)

    return view, looked_up


async def test_without_the_token_a_known_and_an_unknown_user_get_the_same_answer_and_nothing_is_looked_up() -> None:
    view, looked_up = profiles_view()
    guarded = ApiGuard(SecretStr("s3cret-token"))(view)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"},
                    {"Authorization": "Bearer s3cret-tokenX"}, {"Authorization": "Bearer "}):
        known = await guarded(FakeView(), FakeRequest(headers), user_id="u-known")
        unknown = await guarded(FakeView(), FakeRequest(headers), user_id="u-nobody")
        assert known == unknown
        assert known[0] == 401 and known[2] == {"WWW-Authenticate": "Bearer"}
    assert looked_up == []


async def test_with_the_token_the_view_answers_and_says_404_for_an_unknown_user() -> None:
    view, _ = profiles_view()
    guarded = ApiGuard(SecretStr("s3cret-token"))(view)
    auth = FakeRequest({"Authorization": "Bearer s3cret-token"})
    assert (await guarded(FakeView(), auth, user_id="u-known"))[:2] == (200, {"orders": 3})
    assert (await guarded(FakeView(), auth, user_id="u-nobody"))[0] == 404


async def test_with_no_token_configured_the_views_are_off() -> None:
    view, looked_up = profiles_view()
    for token in (None, SecretStr(""), SecretStr("   ")):
        answer = await ApiGuard(token)(view)(FakeView(), FakeRequest({"Authorization": "Bearer "}), user_id="u-known")
        assert answer[0] == 403 and "REVIEWSTREAM_API_TOKEN" in answer[1]["error"]
    assert looked_up == []
