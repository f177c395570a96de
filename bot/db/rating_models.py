"""How the asker rated an answer: one row per answered routing (the answers one official gave
to one question), with the city and topic routing learns from. No person is named here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class AnswerRating(Base):
    __tablename__ = "answer_rating"
    # Routing reads a topic's ratings per city for every question.
    __table_args__ = (Index("ix_answer_rating_topic", "topic_id", "city_id"),)

    routing_id: Mapped[int] = mapped_column(
        ForeignKey("routing.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))  # the answering city
    topic_id: Mapped[int] = mapped_column(Integer)
    useful: Mapped[bool] = mapped_column(Boolean)
    rated_at: Mapped[datetime] = mapped_column(index=True)
