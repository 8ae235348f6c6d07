"""`caredeck impact --target ID [--failure TYPE] [--format table|json]`."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from caredeck import cli
from caredeck.topology.models import Connectivity
from tests.factories import OrganizationFactory
from tests.topology.test_impact import ALL_AREAS, deploy


@pytest.fixture
def tenants(db):
    for slug, primary, connectivity in (
        ("acme", "us-east", Connectivity.PRIVATE_LINE),
        ("globex", "us-east", Connectivity.PRIVATE_LINE),
        ("initech", "us-west", Connectivity.INTERNET),
    ):
        org = OrganizationFactory(slug=slug, name=slug.title())
        deploy(org, primary, None, ("pop-ashburn", "pop-san-jose"), connectivity, ALL_AREAS)


def test_it_prints_the_answer_as_json(tenants, capsys):
    call_command("impact", target="us-east", format="json")
    data = json.loads(capsys.readouterr().out)
    assert data["failure"] == "region_failure"
    assert [t["organization"] for t in data["tenants"]] == ["acme", "globex", "initech"]


def test_the_table_shows_the_texts_once_and_a_line_per_tenant(tenants, capsys):
    call_command("impact", target="us-east", width=120)
    out = capsys.readouterr().out
    assert "If US East (us-east, a region) fails: Primary region failure" in out
    assert "3 tenants affected, 0 not affected" in out
    assert out.count("What it means (region_failure):") == 1
    assert out.count("Active calls dropped.") == 3  # agent login, call routing, outbound
    tenant_lines = [line for line in out.splitlines() if "(region_failure)" not in line
                    and "region_failure" in line]
    assert [line.split()[0] for line in tenant_lines] == ["Acme", "Globex", "Initech"]
    assert max(len(line) for line in out.splitlines()) <= 120


def test_the_table_lists_who_is_not_affected(tenants, capsys):
    call_command("impact", target="pop-london")
    out = capsys.readouterr().out
    assert "0 tenants affected, 3 not affected" in out
    assert "Not affected (3):" in out
    assert "acme, globex, initech" in out


def test_an_unknown_target_is_an_error(db):
    with pytest.raises(CommandError, match="No zone, region or PoP"):
        call_command("impact", target="atlantis")


def test_the_caredeck_command_dispatches_to_it(tenants, capsys, monkeypatch):
    # Django's run_from_argv closes every connection when a command ends; in a test that
    # would close the test transaction's connection (PostgreSQL) before the second call.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    assert cli.main(["impact", "--target", "pop-ashburn", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {t["failure"] for t in data["tenants"]} == {
        "pop_failure_private_line", "pop_failure_internet"
    }
    assert cli.main(
        ["impact", "--target", "pop-ashburn", "--failure", "pop_failure_internet",
         "--format", "json"]
    ) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["failure"] == "pop_failure_internet"
