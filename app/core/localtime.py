"""The one local time zone: the product serves mainland China (UTC+8 all year). Dates and deadlines the users
see, forecasts' days and hours, and day boundaries of searches are in this zone; the database stores UTC."""

from __future__ import annotations

from zoneinfo import ZoneInfo

LOCAL_TZ_NAME = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)
