from services.reviews.models import ReviewsTable
from shared.migrations import run_env

run_env(ReviewsTable.metadata)
