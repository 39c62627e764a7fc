"""Where the pacts live and which code writes each: one place for the list of pacts."""

from __future__ import annotations

from pathlib import Path

from tools.pacts.checkout import write_checkout_pacts
from tools.pacts.consumers import inventory, orders, payments, users
from tools.pacts.http import write_pact
from tools.pacts.messages import write_message_pacts

ROOT = Path(__file__).resolve().parents[2]
PACTS_DIR = ROOT / "contracts" / "pacts"

HTTP_CONSUMERS = {
    "users": users,
    "orders": orders,
    "payments": payments,
    "inventory": inventory,
}


def write_all(out_dir: Path) -> list[Path]:
    """Write every pact into `out_dir`; returns the files written."""
    written = [
        write_pact(provider, module.CLIENT, module.CASES, out_dir)
        for provider, module in HTTP_CONSUMERS.items()
    ]
    return written + write_message_pacts(out_dir) + write_checkout_pacts(out_dir)
