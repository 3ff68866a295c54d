"""Each shop's return policy, or the settings' default for shops that have none."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.returns import tables
from services.returns.domain.window import ReturnPolicy
from services.returns.settings import ReturnsSettings


def default_policy(settings: ReturnsSettings) -> ReturnPolicy:
    return ReturnPolicy(window_days=settings.returns_window_days, time_zone=settings.returns_time_zone,
                        restocking_fee_pct=settings.returns_restocking_fee_pct)


def policy_for(session: Session, shop_id: str, settings: ReturnsSettings) -> ReturnPolicy:
    p = tables.policies
    row = session.execute(select(p).where(p.c.shop_id == shop_id)).first()
    if row is None:
        return default_policy(settings)
    return ReturnPolicy(window_days=row.window_days, time_zone=row.time_zone,
                        final_sale_skus=frozenset(row.final_sale_skus),
                        restocking_fee_pct=_plain(row.restocking_fee_pct))


def set_policy(session: Session, shop_id: str, policy: ReturnPolicy, now: datetime) -> None:
    values = {"window_days": policy.window_days, "time_zone": policy.time_zone,
              "final_sale_skus": sorted(policy.final_sale_skus), "restocking_fee_pct": Decimal(policy.restocking_fee_pct),
              "updated_at": now}
    session.execute(pg_insert(tables.policies).values(shop_id=shop_id, **values)
                    .on_conflict_do_update(index_elements=["shop_id"], set_=values))


def _plain(pct: Decimal) -> Decimal:
    """10.00 from NUMERIC(5, 2) reads back as 10, so that explanations say "10%"."""
    return pct.quantize(Decimal(1)) if pct == pct.to_integral_value() else pct.normalize()
