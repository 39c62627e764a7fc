"""Order sagas stored before SagaExecution.owner_key existed get it from their context's
user_id, so the orders API lists them by the index like the new ones."""

from typing import Any

from django.db import migrations
from django.db.models.fields.json import KT

# The order saga's type (shop.order_processing.SAGA_TYPE), frozen here as migrations must be.
SAGA_TYPE = "order_processing"


def backfill(apps: Any, schema_editor: Any) -> None:
    execution = apps.get_model("interlink", "SagaExecution")
    execution.objects.filter(
        saga_type=SAGA_TYPE, owner_key="", context_data__has_key="user_id"
    ).update(owner_key=KT("context_data__user_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0002_customer"),
        ("interlink", "0004_saga_owner_key_rate_limit_window"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
