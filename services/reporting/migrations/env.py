from services.reporting.models import ReportingTable
from shared.migrations import run_env

run_env(ReportingTable.metadata)
