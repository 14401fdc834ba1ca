"""The worker's LLM side built from one settings object: the gateway's defaults are the settings', the transport
reads nothing from the environment itself, and the analyzers two agents share are closed once, by the last."""

from __future__ import annotations

import dataclasses

import pytest

from streams.llm import factory
from streams.llm.errors import PermanentLLMError
from streams.llm.factory import gateway_config, shared_analyzers
from streams.llm.gateway import GatewayConfig
from streams.llm.transport import OpenAITransport
from streams.settings import Settings


def test_the_gateway_defaults_are_the_settings_defaults() -> None:
    built = gateway_config(Settings(_env_file=None))  # type: ignore[call-arg]
    defaults = GatewayConfig()
    differing = {f.name: (getattr(built, f.name), getattr(defaults, f.name)) for f in dataclasses.fields(defaults)
                 if getattr(built, f.name) != getattr(defaults, f.name)}
    assert differing == {}


def test_the_transport_takes_its_key_from_the_settings_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    with pytest.raises(PermanentLLMError, match="no API key"):
        OpenAITransport(base_url="https://llm.example/v1", api_key=None)


class Closing:
    def __init__(self) -> None:
        self.closed = 0
        self.name = "fake"

    async def aclose(self) -> None:
        self.closed += 1


async def test_shared_analyzers_are_built_once_and_closed_by_the_last_agent_to_leave(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Closing] = []

    def build(settings: Settings, metrics: object = None) -> tuple[Closing, None]:
        built.append(Closing())
        return built[-1], None

    monkeypatch.setattr(factory, "build_analyzers", build)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    async with shared_analyzers(settings) as (reviews, _):
        async with shared_analyzers(settings) as (marketing, _):
            assert marketing is reviews
        assert reviews.closed == 0, "the marketing agent stopping must not close what the review agent uses"
    assert len(built) == 1 and reviews.closed == 1
