"""The wire contract and the domain: records for every topic, their JSON Schemas, and pure domain logic."""

from models.click import ClickEvent, parse_click
from models.dead_letter import DeadLetter
from models.errors import InvalidEvent
from models.insight import Aspect, ReviewAnalysis, ReviewInsight
from models.product_sentiment import ProductWindow, fold_insight_into_window, window_bounds
from models.profile import ProfileUpdate, SourceRef, UserProfile, fold_click, fold_insight, rfm_segment
from models.review import Review, parse_review
from models.schemas import load_schema
from models.session import Session, SessionState

__all__ = [
    "Aspect",
    "ClickEvent",
    "DeadLetter",
    "InvalidEvent",
    "ProductWindow",
    "ProfileUpdate",
    "Review",
    "ReviewAnalysis",
    "ReviewInsight",
    "Session",
    "SessionState",
    "SourceRef",
    "UserProfile",
    "fold_click",
    "fold_insight",
    "fold_insight_into_window",
    "load_schema",
    "parse_click",
    "parse_review",
    "rfm_segment",
    "window_bounds",
]
