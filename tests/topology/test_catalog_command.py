"""`caredeck manage catalog export|import`."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from caredeck import cli
from caredeck.topology.catalog import catalog_export, catalog_parse
from caredeck.topology.models import FunctionalArea, Region


def test_it_exports_yaml_to_stdout(capsys, db):
    call_command("catalog", "export")
    out = capsys.readouterr().out
    assert catalog_parse(out) == catalog_export()


def test_it_exports_json_to_a_file(tmp_path, db):
    target = tmp_path / "catalog.json"
    call_command("catalog", "export", "--format", "json", "--output", str(target))
    assert json.loads(target.read_text()) == catalog_export()


def test_it_imports_a_file_and_prints_what_changed(capsys, tmp_path, db):
    data = catalog_export()
    data["functional_areas"]["wfm"]["name"] = "WFM"
    source = tmp_path / "catalog.yaml"
    source.write_text(yaml.safe_dump(data, sort_keys=False))
    call_command("catalog", "import", str(source))
    assert FunctionalArea.objects.get(slug="wfm").name == "WFM"
    assert "functional_areas: 13 (1 updated)" in capsys.readouterr().out


def test_a_dry_run_changes_nothing(capsys, tmp_path, db):
    data = catalog_export()
    data["regions"]["japan"]["name"] = "Tokyo"
    source = tmp_path / "catalog.json"
    source.write_text(json.dumps(data))
    call_command("catalog", "import", str(source), "--dry-run")
    assert Region.objects.get(slug="japan").name == "Japan"
    out = capsys.readouterr().out
    assert out.startswith("Dry run, nothing changed")
    assert "regions: 10 (1 updated)" in out


def test_it_prints_each_error_with_its_line_and_fails(capsys, tmp_path, db):
    text = yaml.safe_dump(catalog_export(), sort_keys=False)
    lines = text.splitlines()
    scope = lines.index("    scope: per_region")
    lines[scope] = "    scope: somewhere"
    geography = lines.index("    geography: india")
    lines[geography] = "    geography: atlantis"
    source = tmp_path / "bad.yaml"
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="2 error"):
        call_command("catalog", "import", str(source))
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{source}:{geography + 1}: regions.")
    assert "atlantis" in err[0]
    assert err[1].startswith(f"{source}:{scope + 1}: functional_areas.")
    assert Region.objects.get(slug="india").geography.slug == "india"


def test_the_command_line_exits_non_zero_on_errors(capsys, tmp_path, db):
    source = tmp_path / "bad.yaml"
    source.write_text("geographies: [\n")
    with pytest.raises(SystemExit) as exited:
        cli.main(["manage", "catalog", "import", str(source)])
    assert exited.value.code == 1
    assert f"{source}:2:" in capsys.readouterr().err
