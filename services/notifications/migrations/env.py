from services.notifications.models import NotificationsTable
from shared.migrations import run_env

run_env(NotificationsTable.metadata)
