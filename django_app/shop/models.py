"""What the shop's event handlers build: a local profile per user and order statistics."""

from __future__ import annotations

from django.db import models

__all__ = ["OrderStatistics", "UserProfile"]


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
