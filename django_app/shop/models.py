"""What the shop keeps: a local profile per user and order statistics (built by its event
handlers), and which users-service user each API account orders as."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["Customer", "OrderStatistics", "UserProfile"]


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
