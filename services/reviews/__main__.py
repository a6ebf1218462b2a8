from services.reviews.app import create_app
from services.reviews.settings import ReviewsSettings
from shared.service import serve

settings = ReviewsSettings()
serve(create_app(settings), settings)
