"""Admin for what the shop's handlers build: user profiles and order statistics (read-mostly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from .models import OrderStatistics, UserProfile

if TYPE_CHECKING:
    _ProfileAdmin = admin.ModelAdmin[UserProfile]
    _StatsAdmin = admin.ModelAdmin[OrderStatistics]
else:  # the admin classes are not subscriptable at runtime
    _ProfileAdmin = _StatsAdmin = admin.ModelAdmin


@admin.register(UserProfile)
class UserProfileAdmin(_ProfileAdmin):
    list_display = ("user_id", "email", "name", "welcome_email_sent_at", "created_at")
    search_fields = ("user_id", "email", "name")


@admin.register(OrderStatistics)
class OrderStatisticsAdmin(_StatsAdmin):
    list_display = ("user_id", "currency", "order_count", "total_amount", "last_order_at")
    search_fields = ("user_id",)
