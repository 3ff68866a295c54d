"""Pick lists as a fixed-width table a picker can print and walk with."""

from __future__ import annotations

from services.warehouse.views import PicklistView

COLUMNS = ("#", "zone", "aisle", "bay", "lvl", "bin", "sku", "qty", "totes (tote x units)")


def picklist_table(view: PicklistView) -> str:
    header = (f"{view.picklist_id}  wave {view.wave_id}  warehouse {view.warehouse_id}  "
              f"issued {view.issued_at:%Y-%m-%d %H:%M} UTC  {len(view.orders)} order(s)  "
              f"{view.status}: {view.units_picked}/{view.units_total} units picked")
    rows = [COLUMNS] + [
        (str(line.sequence), line.zone, str(line.aisle), str(line.bay), str(line.level), line.bin, line.sku,
         str(line.quantity), "  ".join(f"{t.tote}x{t.quantity}" for t in line.totes))
        for line in view.lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    numeric = {0, 2, 3, 4, 7}
    lines = [header]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    totes = {t.tote: f"{t.order_id} of {t.shop_id}" for line in view.lines for t in line.totes}
    lines.append("totes: " + ", ".join(f"{tote} = order {order}" for tote, order in sorted(totes.items())))
    if view.cancelled_orders:
        lines.append("CANCELLED since issue (put back, do not pack): "
                     + ", ".join(f"{o.order_id} of {o.shop_id}" for o in view.cancelled_orders))
    return "\n".join(lines)
