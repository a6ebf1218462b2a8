from services.partners.app import create_app
from services.partners.settings import PartnersSettings
from shared.service import serve

settings = PartnersSettings()
serve(create_app(settings), settings)
