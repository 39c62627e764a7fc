"""The committed migrations match the models."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_have_no_unmigrated_changes() -> None:
    """`makemigrations --check` finds nothing to write: every model change has its migration."""
    out = StringIO()
    try:
        call_command("makemigrations", "interlink", check=True, dry_run=True, stdout=out)
    except SystemExit as exc:  # --check exits 1 when a migration is missing
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")
        raise AssertionError from exc
