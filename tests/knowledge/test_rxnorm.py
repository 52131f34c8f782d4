"""RxNorm ingredient codes of the drug catalogue: each one carries the stored sources that
state it with its ingredient, and the FHIR reader knows exactly those codes."""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources

import pytest

from boneturnover.clinical import io
from boneturnover.clinical.io import RXNORM, load_patient
from boneturnover.knowledge.drugs import KnowledgeBaseError, drug_catalog, drug_catalog_from_dict
from boneturnover.knowledge.sources import Reference, resolve

#: Ingredient codes checked against the stored sources named in the catalogue.
VERIFIED = {
    "alendronate": {"46041": "alendronate"}, "risedronate": {"73056": "risedronate"},
    "ibandronate": {"115264": "ibandronate"}, "zoledronate": {"77655": "zoledronic acid"},
    "denosumab": {"993449": "denosumab"}, "raloxifene": {"72143": "raloxifene"},
    "teriparatide": {"32915": "teriparatide"}, "romosozumab": {"2123126": "romosozumab"},
    "glucocorticoid": {"8640": "prednisone", "8638": "prednisolone",
                       "6902": "methylprednisolone", "3264": "dexamethasone",
                       "5492": "hydrocortisone"},
}


def _raw() -> dict:
    text = resources.files("boneturnover.knowledge").joinpath("data", "drugs.toml").read_text(
        "utf-8")
    return tomllib.loads(text)


def test_every_rxnorm_code_carries_its_verifying_source():
    cat = drug_catalog()
    seen = 0
    for d in cat.values():
        for rx in d.rxnorm:
            seen += 1
            assert rx.sources, (d.key, rx.code)
            for key in rx.sources:
                text = cat.sources[key]
                # the source is a stored public file named by repository, path and commit,
                # and it states this code with this ingredient
                assert key.startswith("RXNORM_") and "(GitHub" in text and "commit " in text
                assert rx.code in text and rx.name.casefold() in text.casefold(), (key, rx)
                assert isinstance(resolve(f"knowledge.drugs:{key}"), Reference)
    assert seen == sum(len(v) for v in VERIFIED.values())


def test_the_codes_are_the_verified_ones_and_the_rest_say_why_not():
    cat = drug_catalog()
    for d in cat.values():
        assert {rx.code: rx.name for rx in d.rxnorm} == VERIFIED.get(d.key, {}), d.key
        if not d.rxnorm:
            assert d.rxnorm_unverified and "no stored source" in d.rxnorm_unverified, d.key
    raw = _raw()["drugs"]
    for key, d in raw.items():  # the list the FHIR reader uses is the verified list
        assert d.get("rxnorm", []) == list(VERIFIED.get(key, {})), key


def test_the_fhir_reader_maps_exactly_the_catalogue_codes():
    expected = {code: key for key, codes in VERIFIED.items() for code in codes}
    assert dict(io._rxnorm()) == expected


@pytest.mark.parametrize(("code", "drug"), [(c, k) for k, v in VERIFIED.items() for c in v])
def test_a_fhir_medication_coded_only_by_rxnorm_is_recognised(tmp_path, code, drug):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1950-01-01"}},
        {"resource": {"resourceType": "Observation", "id": "ctx", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "41171-0"}]},
                      "subject": {"reference": "Patient/p"},
                      "effectiveDateTime": "2024-01-05",
                      "valueQuantity": {"value": 400, "unit": "ng/L", "code": "ng/L",
                                        "system": "http://unitsofmeasure.org"}}},
        {"resource": {"resourceType": "MedicationStatement", "id": "m", "status": "active",
                      "subject": {"reference": "Patient/p"},
                      "medicationCodeableConcept": {"coding": [{"system": RXNORM,
                                                                "code": code}]},
                      "effectivePeriod": {"start": "2024-01-08"}}}]}
    f = tmp_path / "b.json"
    f.write_text(json.dumps(bundle), "utf-8")
    assert [t.drug for t in load_patient(f).treatments] == [drug]


def _with(change) -> dict:
    data = copy.deepcopy(_raw())
    change(data["drugs"])
    return data


@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d["risedronate"].pop("rxnorm_sources"), "73056 has no verifying source"),
    (lambda d: d["risedronate"]["rxnorm_sources"]["73056"].update(sources=[]),
     "73056 has no verifying source"),
    (lambda d: d["risedronate"]["rxnorm_sources"]["73056"].update(sources=["NOPE"]),
     "source 'NOPE' is not in"),
    (lambda d: d["risedronate"]["rxnorm_sources"]["73056"].pop("name"),
     "needs the ingredient name"),
    (lambda d: d["calcium"].update(rxnorm=["1897"]), "1897 has no verifying source"),
    (lambda d: d["calcium"].update(rxnorm=[1897]), "digit strings"),
    (lambda d: d["denosumab"]["rxnorm_sources"].update({"1": {"name": "x", "sources": [
        "RXNORM_ODTP"]}}), r"rxnorm_sources for \['1'\] not in rxnorm"),
    (lambda d: (d["risedronate"].update(rxnorm=["46041"]),
                d["risedronate"].update(rxnorm_sources=d["alendronate"]["rxnorm_sources"])),
     "46041 belongs to both alendronate and risedronate"),
])
def test_an_unsourced_or_clashing_code_is_refused(change, match):
    with pytest.raises(KnowledgeBaseError, match=match):
        drug_catalog_from_dict(_with(change))
