"""What the shop keeps: a local profile per user and order statistics (built by its event
handlers), which users-service user each API account orders as, and the choreographed
checkouts (shop/choreography/)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["Checkout", "CheckoutStatus", "Customer", "OrderStatistics", "UserProfile"]


class UserProfile(models.Model):
    user_id = models.UUIDField(unique=True)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200)
    welcome_email_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class OrderStatistics(models.Model):
    """Orders placed per user and currency (amounts never mix currencies)."""

    user_id = models.UUIDField()
    currency = models.CharField(max_length=3)
    order_count = models.PositiveIntegerField(default=0)
    # Integer minor units, like every amount in the contracts.
    total_amount = models.BigIntegerField(default=0)
    last_order_id = models.UUIDField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "order statistics"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "currency"], name="shop_orderstats_user_cur")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.currency}: {self.order_count} orders"


class Customer(models.Model):
    """A Django account of the orders API and the users-service user it places orders as.

    The API never takes a user id from the request body: the bearer token names the account,
    and this row names the shop user, so nobody orders (or reads orders) as somebody else.
    """

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer"
    )
    user_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.account} -> {self.user_id}"


class CheckoutStatus(models.TextChoices):
    """How far a choreographed order got: each participant moves it on (shop/choreography/)."""

    REQUESTED = "requested"
    CUSTOMER_VERIFIED = "customer_verified"
    STOCK_RESERVED = "stock_reserved"
    PAID = "paid"
    PLACED = "placed"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    FAILED = "failed"


class Checkout(models.Model):
    """A choreographed order: no orchestrator holds its state, this row does. Each participant
    advances `status` in the transaction that records its inbox row and enqueues the next event.
    """

    checkout_id = models.UUIDField(unique=True)
    user_id = models.UUIDField()
    items = models.JSONField()  # [{"product_id", "quantity"}], as the customer asked
    currency = models.CharField(max_length=3)
    # The payment method's token: read by the payments participant, never put on the bus.
    card_token = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=CheckoutStatus.choices, default=CheckoutStatus.REQUESTED
    )
    # The participant that moved it last: with the status, who to ask when it stops moving.
    moved_by = models.CharField(max_length=50, default="shop")
    reservations = models.JSONField(default=list)  # [{"id", "product_id", "quantity", ...}]
    total_amount = models.BigIntegerField(null=True, blank=True)
    payment_id = models.UUIDField(null=True, blank=True)
    refund_id = models.UUIDField(null=True, blank=True)
    order_id = models.UUIDField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Attempts per participant that met a failing service (participant -> count).
    attempts = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="shop_checkout_stuck")]

    def __str__(self) -> str:
        return f"checkout {self.checkout_id}: {self.status}"
