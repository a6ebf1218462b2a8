# Every feature's tables must be imported so their metadata is complete.
import services.reviews.deadlines.models
import services.reviews.lifecycle.models  # noqa: F401
from services.reviews.models import ReviewsTable
from shared.migrations import run_env

run_env(ReviewsTable.metadata)
