from __future__ import annotations

from pathlib import Path

import pytest

from calypso.workspace.rules import AgentRules, DataCollectionRules, etag_of, load_rules_file, validate_dcr


def test_etag_is_stable_and_changes_with_content(tmp_path: Path) -> None:
    assert etag_of({"a": 1, "b": 2}) == etag_of({"b": 2, "a": 1})
    rules = AgentRules(tmp_path / "rules.json")
    first = rules.set({"sources": {"perf": {"interval": "10s"}}})
    assert rules.current() == ({"sources": {"perf": {"interval": "10s"}}}, first)
    assert rules.set({"sources": {"perf": {"interval": "20s"}}}) != first
    assert (tmp_path / "rules.json").stat().st_mode & 0o777 == 0o600


def test_rules_from_toml(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text(
        '[[sources.tail]]\nname = "MyApp"\npaths = ["/var/log/a.log"]\n[sources.perf]\ninterval = "10s"\n'
    )
    assert load_rules_file(f)["sources"]["tail"][0]["name"] == "MyApp"


def test_dcr_validation(tmp_path: Path) -> None:
    good = {
        "streams": {
            "Custom-A": {
                "table": "A_CL",
                "transformKql": "source | where x > 1",
                "columns": [{"name": "x", "type": "long"}],
            },
            "Custom-H": {"table": "Heartbeat"},
        }
    }
    streams = validate_dcr("dcr-1", good)
    assert streams["Custom-A"].columns == (("x", "long"),) and streams["Custom-H"].transform is None
    for bad in (
        {},
        {"streams": {}},
        {"streams": {"S": {"table": "Nope"}}},
        {"streams": {"S": {"table": "A_CL", "columns": [{"name": "x", "type": "int64"}]}}},
    ):
        with pytest.raises(ValueError):
            validate_dcr("dcr-1", bad)
    with pytest.raises(ValueError):
        validate_dcr("../escape", good)
    dcrs = DataCollectionRules(tmp_path / "dcr.json")
    dcrs.put("dcr-1", good)
    assert dcrs.stream("dcr-1", "Custom-A") is not None and dcrs.stream("dcr-1", "Custom-B") is None
