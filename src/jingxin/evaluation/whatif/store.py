"""Saved scenarios (保存情景) and their adoption as a county override file (采纳).

Saving needs the county in the user's scope; reading one outside the scope answers as if it did
not exist. Adopting is for an administrator: the scenario's changes are folded into the
county's override (`scenario.to_override`) and written to
`$JINGXIN_EVALUATION_SYSTEMS/overrides/<system>/<county>.yaml`, the deployment's folder that
`config.load_system` reads after the shipped one; the adoption is in the audit log with the
file and the changed parameters. The next stored run of the county uses it; nothing before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.audit import Actor
from jingxin.core.db import utcnow
from jingxin.core.scope import Scope, division_prefix
from jingxin.evaluation.config import ENV_SYSTEMS_DIR, load_system
from jingxin.evaluation.whatif.models import WhatIfScenario
from jingxin.evaluation.whatif.scenario import Scenario, ScenarioError, to_override


class NotFound(LookupError):
    """No such scenario in the user's scope."""


class AdoptError(ValueError):
    """A scenario that cannot be adopted (message in Chinese)."""


def save(
    db: Session,
    scope: Scope,
    actor: Actor,
    *,
    name: str,
    system: str,
    year: int,
    county: str,
    scenario: Scenario,
    user_id: int | None,
    user_name: str,
) -> WhatIfScenario:
    if not scope.allows_division(county) or len(county) != 6:
        raise NotFound(county)
    name = name.strip()
    if not name or len(name) > 100:
        raise ScenarioError("情景名称：应为 1–100 个字")
    row = WhatIfScenario(
        name=name,
        system=system,
        year=year,
        county_code=county,
        params=scenario.model_dump_json(exclude_defaults=True),
        created_by_id=user_id,
        created_by_name=user_name,
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        actor,
        audit.Action.WHATIF_SAVE,
        "whatif_scenario",
        row.id,
        {"name": name, "county": county, "system": system, "year": year},
    )
    db.commit()
    return row


def listed(db: Session, scope: Scope, system: str, year: int, county: str) -> list[WhatIfScenario]:
    if not scope.allows_division(county):
        return []
    q = select(WhatIfScenario).where(
        WhatIfScenario.system == system, WhatIfScenario.year == year, WhatIfScenario.county_code == county
    )
    return list(db.scalars(q.order_by(WhatIfScenario.id.desc())))


def get(db: Session, scope: Scope, scenario_id: int) -> WhatIfScenario:
    row = db.get(WhatIfScenario, scenario_id)
    if row is None or not scope.allows_division(row.county_code):
        raise NotFound(scenario_id)
    return row


def params_of(row: WhatIfScenario) -> Scenario:
    return Scenario.model_validate(json.loads(row.params))


def overrides_dir() -> Path:
    folder = os.environ.get(ENV_SYSTEMS_DIR)
    if not folder:
        raise AdoptError(
            f"未配置评价体系目录：请设置环境变量 {ENV_SYSTEMS_DIR}（区县参数文件写入其 overrides 子目录）"
        )
    return Path(folder)


def adopt(db: Session, scope: Scope, actor: Actor, scenario_id: int, user_id: int | None) -> Path:
    """Write the scenario as the county's override file; audited (admin only, checked by the route)."""
    row = get(db, scope, scenario_id)
    if len(division_prefix(row.county_code)) != 6:
        raise AdoptError(
            "全市或全省的情景不能采纳为区县参数文件：请按区县保存情景后逐一采纳，或修改评价体系本身"
        )
    system = load_system(row.system)
    params = params_of(row)
    override = to_override(
        system, row.county_code, row.year, params, note=f"采纳情景「{row.name}」（#{row.id}）"
    )
    folder = overrides_dir() / "overrides" / row.system
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{row.county_code}.yaml"
    body = override.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    body["county"] = row.county_code
    text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    try:
        load_system(row.system)  # the file must load; otherwise put the old one back
    except Exception as exc:
        if old is None:
            path.unlink()
        else:
            path.write_text(old, encoding="utf-8")
        raise AdoptError(f"区县参数文件无法加载：{exc}") from exc
    row.adopted_by_id = user_id
    row.adopted_at = utcnow()
    row.override_path = str(path)
    audit.record(
        db,
        actor,
        audit.Action.WHATIF_ADOPT,
        "whatif_scenario",
        row.id,
        {
            "name": row.name,
            "county": row.county_code,
            "system": row.system,
            "file": str(path),
            "params": json.loads(row.params),
        },
    )
    db.commit()
    return path


def describe(row: WhatIfScenario) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "system": row.system,
        "year": row.year,
        "county_code": row.county_code,
        "params": json.loads(row.params),
        "created_by": row.created_by_name,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "adopted_at": row.adopted_at.isoformat() if row.adopted_at else None,
    }
