"""Layout files: grids of bins, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.warehouse.domain.errors import LayoutError
from services.warehouse.layout import Grid, read

ROOT = Path(__file__).resolve().parents[2]


def test_a_grid_names_every_bin_zone_aisle_bay_level() -> None:
    bins = Grid(zones=["A", "B"], aisles=2, bays=3, levels=2).bins()
    assert len(bins) == 24 and bins[0].bin == "A-01-01-1" and bins[-1].bin == "B-02-03-2"
    assert (bins[7].zone, bins[7].aisle, bins[7].bay, bins[7].level) == ("A", 2, 1, 2)


def test_the_sample_layout_loads() -> None:
    layout = read(ROOT / "deploy/sample/warehouses.yaml")
    assert [w.id for w in layout.warehouses] == ["WH-BER-N", "WH-BER-S", "WH-LEJ"]
    assert layout.shops["shop-complete"].value == "ship_complete"


def test_stock_in_a_bin_the_layout_lacks_is_refused_with_the_bin(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("warehouses:\n- {id: W1, name: One, latitude: 50, longitude: 4,\n"
                    "   bins: [{bin: A1, zone: A, aisle: 1, bay: 1, level: 1}],\n"
                    "   stock: [{sku: S1, bin: Z9, on_hand: 3}]}\n")
    with pytest.raises(LayoutError, match=r"stock names bins not in its layout: \['Z9'\]"):
        read(path)


def test_an_unknown_policy_or_a_missing_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("shops: {acme: ship_whenever}\nwarehouses: [{id: W1, latitude: 50, longitude: 4}]\n")
    with pytest.raises(LayoutError) as error:
        read(path)
    assert "shops.acme" in str(error.value) and "warehouses.0.name: Field required" in str(error.value)
