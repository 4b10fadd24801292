"""Every action the platform writes to the audit log has a Chinese label on the audit page and can
be searched for: the action of every `record(...)` and `save_entry(...)` call in `src/` is read
from the source (a constant, a module constant, or a local variable assigned `Action` members)."""

from __future__ import annotations

import ast
from pathlib import Path

from jingxin.core import audit

SRC = Path(audit.__file__).resolve().parents[1]

# The functions that write an entry, and the position of their action argument.
WRITERS = {"record": 2, "save_entry": 1}


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level `NAME = value` assignments."""
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
    return found


def _action_of(node: ast.expr, constants: dict[str, ast.expr]) -> str | None:
    """The stored action value of an expression, or None when it is not a constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
        owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
        if owner == "Action":
            return audit.Action[node.attr].value  # KeyError: no such member
    if isinstance(node, ast.Name) and node.id in constants:
        return _action_of(constants[node.id], constants)
    return None


def _assigned_actions(tree: ast.Module, name: str) -> set[str]:
    """The `Action` members assigned anywhere in the module to the variable `name`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            for part in ast.walk(node.value):
                if isinstance(part, ast.Attribute) and (value := _action_of(part, {})) is not None:
                    found.add(value)
    return found


def _recorded_actions() -> tuple[set[str], list[tuple[str, str]]]:
    actions: set[str] = set()
    unresolved: list[tuple[str, str]] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name not in WRITERS:
                continue
            arg = next((k.value for k in node.keywords if k.arg == "action"), None)
            if arg is None and len(node.args) > WRITERS[name]:
                arg = node.args[WRITERS[name]]
            if arg is None:
                continue
            value = _action_of(arg, constants)
            if value is not None:
                actions.add(value)
            elif isinstance(arg, ast.Name) and (assigned := _assigned_actions(tree, arg.id)):
                actions |= assigned
            else:
                unresolved.append((rel, ast.unparse(arg)))
    return actions, unresolved


def test_every_recorded_action_has_a_label() -> None:
    actions, unresolved = _recorded_actions()
    assert {"login", "workflow_step", "exchange_read", "csrf_failed", "user_disable"} <= actions  # found
    assert not unresolved, f"action not readable from the source: {unresolved}"
    known = {a.value for a in audit.Action}
    assert actions <= known, f"actions without an Action member and label: {sorted(actions - known)}"
    for action in actions:
        label = audit.action_label(action)
        assert label != action and not label.isascii(), action


def test_every_action_member_has_a_chinese_label() -> None:
    assert set(audit.ACTION_LABELS) == set(audit.Action)
    for action in audit.Action:
        assert not action.label.isascii(), action
    # including the ones named in the security document's list of refused requests
    for value in ("password_change_failed", "access_denied", "csrf_failed", "exchange_refused"):
        assert audit.action_label(value) != value
