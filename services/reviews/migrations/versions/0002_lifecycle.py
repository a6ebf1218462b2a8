"""Reviews: the case lifecycle: timeline, rapid review, Panel response, national and local
reviews, report versions, recommendations and actions.

Revision ID: 0002_lifecycle
"""

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0002_lifecycle"
down_revision = "0001"
branch_labels = None
depends_on = None


def _case_fk(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "case_id",
        sa.String(64),
        sa.ForeignKey("case.id"),
        nullable=False,
        primary_key=primary_key,
        index=not primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "case_timeline",
        sa.Column("id", sa.String(64), primary_key=True),
        _case_fk(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(60), nullable=False),
        sa.Column("from_status", sa.String(40), nullable=False),
        sa.Column("to_status", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.UniqueConstraint("case_id", "position", name="uq_case_timeline_position"),
    )
    op.create_table(
        "rapid_review",
        _case_fk(primary_key=True),
        sa.Column("participants", sa.JSON(), nullable=True),
        sa.Column("facts", sa.Text(), nullable=True),
        sa.Column("key_practice_episodes", sa.JSON(), nullable=True),
        sa.Column("immediate_actions", sa.JSON(), nullable=True),
        sa.Column("family_context", sa.Text(), nullable=True),
        sa.Column("learning", sa.JSON(), nullable=True),
        sa.Column("decision", sa.String(40), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=True),
        sa.Column("sent_to_panel_on", sa.Date(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "panel_response",
        _case_fk(primary_key=True),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("national_review_id", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "national_review",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=True),
        sa.Column("partnership_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "local_review",
        _case_fk(primary_key=True),
        sa.Column("reviewer_name", sa.String(200), nullable=True),
        sa.Column("reviewer_organisation", sa.String(200), nullable=True),
        sa.Column("reviewer_independence_declared", sa.Boolean(), nullable=False),
        sa.Column("reviewer_independence_statement", sa.Text(), nullable=True),
        sa.Column("terms_of_reference", sa.Text(), nullable=True),
        sa.Column("methodology", sa.String(2000), nullable=True),
        sa.Column("milestones", sa.JSON(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("commissioned_on", sa.Date(), nullable=True),
        sa.Column("planned_publication_on", sa.Date(), nullable=True),
        sa.Column("shared_on", sa.Date(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("publication_url", sa.String(500), nullable=True),
        sa.Column("withheld_reason", sa.String(2000), nullable=True),
        sa.Column("late_reasons", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "review_report_version",
        sa.Column("id", sa.String(64), primary_key=True),
        _case_fk(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "version", name="uq_report_version"),
    )
    op.create_table(
        "recommendation",
        sa.Column("id", sa.String(64), primary_key=True),
        _case_fk(),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("national_review_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_agency", sa.String(200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_reason", sa.String(2000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "recommendation_action",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "recommendation_id",
            sa.String(64),
            sa.ForeignKey("recommendation.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("owner_agency", sa.String(200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("evidence", sa.String(4000), nullable=True),
        sa.Column("signed_off_by", sa.String(200), nullable=True),
        sa.Column("signed_off_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "recommendation_action",
        "recommendation",
        "review_report_version",
        "local_review",
        "national_review",
        "panel_response",
        "rapid_review",
        "case_timeline",
    ):
        op.drop_table(table)
