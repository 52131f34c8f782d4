"""Parameter metadata: a one-sentence meaning, and calibration recorded as data beside it."""

import argparse
import re
import tomllib
from dataclasses import replace
from importlib import resources

import pytest

from boneturnover.errors import InputError
from boneturnover.model import commands
from boneturnover.model.assembly import BUNDLED_MODULES, MODULE_DIR
from boneturnover.model.spec import Parameter, _parse, load_model
from boneturnover.model.system import BoneModel

#: Longest meaning allowed (characters): what the parameter is, not how it was chosen.
MAX_MEANING = 300
#: Longest method allowed: a short note; the rationale lives in docs/CALIBRATION.md.
MAX_METHOD = 300
#: Words about how the project was developed (allowed nowhere in the model data) and
#: about how a value was chosen (allowed in `calibrated_to` / `method`, not in `meaning`).
DEVELOPMENT = r"\bsessions?\b|\bissues?\b|\btickets?\b|must-hold|this machine|\d[- ]cores?\b"
HISTORY = re.compile(DEVELOPMENT + r"|\bwas\b|re-chosen|calibrat|set by hand", re.IGNORECASE)
NEVER = re.compile(DEVELOPMENT, re.IGNORECASE)
MODEL_FILES = ("peterson_riggs", "drugs", "magnesium")  # bibliographies
MODULE_FILES = [MODULE_DIR / f"{name}.toml" for name in BUNDLED_MODULES]


@pytest.fixture(scope="module")
def spec():
    return load_model()


def test_every_meaning_is_one_bounded_sentence(spec):
    for p in spec.parameters:
        m = p.meaning
        assert m.strip() == m and m, p.name
        assert len(m) <= MAX_MEANING, (p.name, len(m))
        # one sentence: no sentence end followed by more text
        assert not re.search(r"[.!?]\s+\S", m), (p.name, m)
        assert not HISTORY.search(m), (p.name, m)


def test_calibration_records_are_short_non_empty_strings(spec):
    for p in spec.parameters:
        assert isinstance(p.calibrated_to, tuple), p.name
        for target in p.calibrated_to:
            assert isinstance(target, str) and target.strip() == target and target, p.name
            assert not NEVER.search(target), (p.name, target)
        assert len(set(p.calibrated_to)) == len(p.calibrated_to), p.name
        assert isinstance(p.method, str) and len(p.method) <= MAX_METHOD, p.name
        assert not NEVER.search(p.method), (p.name, p.method)
        assert p.calibrated == bool(p.calibrated_to)


def test_evidence_calibration_names_its_targets(spec):
    for p in spec.parameters:
        if p.evidence == "calibration":
            assert p.calibrated, f"{p.name}: evidence 'calibration' without calibrated_to"


def test_known_calibrations_are_exposed(spec):
    k = spec.parameter("k_bmd_spine")
    assert k.calibrated and any("FREEDOM" in t for t in k.calibrated_to)
    assert any("SWAN" in t for t in k.calibrated_to)
    assert "grid" in k.method
    assert spec.parameter("bp_emax").method.startswith("least squares")
    assert not spec.parameter("k_rank_on").calibrated  # published fit, taken as is
    assert spec.parameter("k_rank_on").method == ""


def test_model_data_speak_of_the_model_not_its_development():
    lib = resources.files("boneturnover.model.library")
    files = [lib.joinpath(f"{name}.toml") for name in MODEL_FILES] + MODULE_FILES
    for path in files:
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            assert not NEVER.search(line), f"{path.name}:{n}: {line[:120]}"


def test_model_loads_identically_with_the_metadata(spec):
    """The new fields are metadata: the values are the TOML literals, the record unchanged."""
    raw = {}
    for path in MODULE_FILES:
        raw.update(tomllib.loads(path.read_text(encoding="utf-8")).get("parameters", {}))
    assert set(raw) == set(spec.parameter_names)
    for p in spec.parameters:
        assert p.value == float(raw[p.name]["value"]), p.name
    # the parameter record the equations read is the same with the metadata stripped
    plain = replace(spec, parameters=tuple(replace(p, calibrated_to=(), method="")
                                           for p in spec.parameters))
    assert BoneModel(spec).records(1).tobytes() == BoneModel(plain).records(1).tobytes()


def test_loader_accepts_optional_fields_and_rejects_bad_ones():
    base = {
        "name": "t", "title": "t", "time_unit": "h", "sources": {"S": "a source"},
        "states": {"x": {"initial": 1.0, "unit": "1", "meaning": "x", "symbol": "",
                         "source": "S"}},
        "parameters": {"k": {"value": 2.0, "unit": "1/h", "meaning": "a rate", "symbol": "",
                             "source": "S", "evidence": "assumption", "bounds": "positive"}},
    }
    spec = _parse(base, "t.toml")
    assert spec.parameter("k").calibrated_to == () and spec.parameter("k").method == ""
    base["parameters"]["k"].update(calibrated_to=["trial A", "trial B"], method="grid")
    k = _parse(base, "t.toml").parameter("k")
    assert k.calibrated_to == ("trial A", "trial B") and k.method == "grid" and k.calibrated
    base["parameters"]["k"]["calibrated_to"] = "trial A"
    with pytest.raises(InputError, match="calibrated_to"):
        _parse(base, "t.toml")
    base["parameters"]["k"]["calibrated_to"] = ["trial A", ""]
    with pytest.raises(InputError, match="calibrated_to"):
        _parse(base, "t.toml")
    base["parameters"]["k"]["calibrated_to"] = ["trial A"]
    base["parameters"]["k"]["method"] = 3
    with pytest.raises(InputError, match="method"):
        _parse(base, "t.toml")
    with pytest.raises(InputError, match="calibrated_to"):
        Parameter("k", 1.0, "1", "m", "", "S", "assumption", calibrated_to=["a"])  # type: ignore[arg-type]


def test_parameters_command_shows_calibration(capsys, spec):
    # the model's own commands only, so that this test does not depend on other modules
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["parameters"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("k_bmd_spine "))
    assert lines[row + 1].strip().startswith("calibrated to: SWAN")
    assert lines[row + 2].strip().startswith("method: grid")
    n_cal = sum(p.calibrated for p in spec.parameters)
    assert f"{n_cal} of {len(spec.parameters)} parameters are calibrated" in out
    plain = next(i for i, line in enumerate(lines) if line.startswith("k_rank_on "))
    assert not lines[plain + 1].strip().startswith(("calibrated to:", "method:"))
