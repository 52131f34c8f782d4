"""The model specification: every parameter and state declared once, with unit and source."""

import math

import pytest

from boneturnover.errors import InputError
from boneturnover.model.spec import EVIDENCE_LEVELS, load_model
from boneturnover.units import parse_ucum


def test_every_parameter_has_unit_source_and_evidence():
    spec = load_model()
    assert len(spec.parameters) > 100
    for p in spec.parameters:
        parse_ucum(p.unit)
        assert p.source in spec.sources, p.name
        assert p.evidence in EVIDENCE_LEVELS
        assert p.meaning


def test_names_are_unique():
    spec = load_model()
    assert len(set(spec.parameter_names)) == len(spec.parameter_names)
    assert len(set(spec.state_names)) == len(spec.state_names)


def test_unknown_names_raise_clear_errors():
    spec = load_model()
    with pytest.raises(InputError, match="unknown parameter 'nope'"):
        spec.parameter("nope")
    with pytest.raises(InputError, match="unknown model"):
        load_model("nope")


def test_with_values_replaces_values_and_keeps_provenance():
    spec = load_model()
    old = spec.parameter("bp_emax")
    new = spec.with_values({"bp_emax": 2.5})
    assert new.parameter("bp_emax").value == 2.5
    assert new.parameter("bp_emax").source == old.source
    assert spec.parameter("bp_emax").value == old.value  # the bundled spec is untouched
    assert new.parameter_names == spec.parameter_names
    with pytest.raises(InputError, match="nosuch"):
        spec.with_values({"nosuch": 1.0})
    with pytest.raises(InputError, match="finite"):
        spec.with_values({"bp_emax": math.inf})
