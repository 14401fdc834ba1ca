"""The wire contract and the domain: records for every topic, their JSON Schemas, and pure domain logic."""

from models.dead_letter import DeadLetter
from models.errors import InvalidEvent
from models.insight import Aspect, ReviewAnalysis, ReviewInsight
from models.review import Review, parse_review
from models.schemas import load_schema

__all__ = [
    "Aspect",
    "DeadLetter",
    "InvalidEvent",
    "Review",
    "ReviewAnalysis",
    "ReviewInsight",
    "load_schema",
    "parse_review",
]
