"""The alert and marketing rule configurations a worker runs with, from its settings."""

from __future__ import annotations

import dataclasses

from models.alerts import AlertConfig
from models.integrity import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.marketing import MarketingConfig
from streams.settings import Settings

__all__ = ["alert_config", "integrity_config", "marketing_config"]


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        cooldown_s=settings.alert_cooldown_s,
        spike_min_volume=settings.alert_spike_min_volume,
        spike_min_share=settings.alert_spike_min_share,
        spike_ratio=settings.alert_spike_ratio,
        competitor_min_mentions=settings.alert_competitor_min_mentions,
        competitor_ratio=settings.alert_competitor_ratio,
        vip_segments=frozenset(settings.alert_vip_segments),
        vip_min_spend=settings.alert_vip_min_spend,
    )


def marketing_config(settings: Settings) -> MarketingConfig:
    return MarketingConfig(
        abandon_after_s=settings.marketing_abandon_after_s,
        winback_after_s=settings.marketing_winback_after_s,
        cap_messages=settings.marketing_cap_messages,
        cap_window_s=settings.marketing_cap_window_s,
    )


def integrity_config(settings: Settings) -> IntegrityConfig:
    """The integrity defaults (models/integrity/config.py, tuned by bench.integrity) with the worker's threshold and
    the incident rules (cooldown) of its other alerts."""
    return dataclasses.replace(DEFAULT_INTEGRITY_CONFIG, threshold=settings.integrity_threshold,
                               alerts=alert_config(settings))
