from services.partners.models import PartnersTable
from shared.migrations import run_env

run_env(PartnersTable.metadata)
