"""Shared helpers: scenarios with treatments, as dicts and as TOML text."""

from typing import Any

PATIENT = {"age": 65, "menopause_age": 51}


def scenario(*treatments: dict[str, Any], years: float = 3, **top: Any) -> dict[str, Any]:
    """A scenario mapping with the given ``[[treatment]]`` entries."""
    return {"years": years, "patient": dict(PATIENT), "treatment": list(treatments), **top}


def _value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def to_toml(data: dict[str, Any]) -> str:
    """Write the small subset of TOML these scenarios use."""
    lines = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict | list)
             or (isinstance(v, list) and not any(isinstance(x, dict) for x in v))]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {_value(vv)}" for kk, vv in v.items()]
    for k, v in data.items():
        if isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for entry in v:
                lines.append(f"[[{k}]]")
                lines += [f"{kk} = {_value(vv)}" for kk, vv in entry.items()]
    return "\n".join(lines) + "\n"
