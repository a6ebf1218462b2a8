# Every feature's tables must be imported so their metadata is complete.
import services.partners.agencies.models
import services.partners.arrangements.models
import services.partners.funding.models
import services.partners.scrutiny.models  # noqa: F401
from services.partners.models import PartnersTable
from shared.migrations import run_env

run_env(PartnersTable.metadata)
