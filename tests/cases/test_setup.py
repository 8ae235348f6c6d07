"""The care set-up: care managers keep groups, experts, requirements and escalation
contacts; everyone else gets 403; bad values come back beside their field."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from caredeck.cases import setup
from caredeck.cases.models import CaseRequirement, EscalationContact, Expert, SupportGroup
from caredeck.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def group_data(product, **extra):
    data = {"name": "Voice", "slug": "voice", "products": [product.slug],
            "timezone": "Europe/London", "country": "gb", "day_start": "08:00",
            "day_end": "18:00", "workdays": ["0", "1", "2", "3", "4"], "is_active": "on"}
    data.update(extra)
    return data


def test_only_care_managers_reach_the_setup(page_as, care_analyst, contact_a, care_manager,
                                            platform_admin):
    for user in (care_analyst, contact_a):
        client = page_as(user)
        assert client.get(reverse("care-setup")).status_code == 403
        assert client.post(reverse("care-group-new"), {}).status_code == 403
        assert client.post(reverse("care-requirement-add"), {}).status_code == 403
    for user in (care_manager, platform_admin):
        assert page_as(user).get(reverse("care-setup")).status_code == 200


def test_a_group_is_created_and_edited_with_audit(page_as, care_manager, product):
    client = page_as(care_manager)
    response = client.post(reverse("care-group-new"), group_data(product))
    assert response.status_code == 302
    group = SupportGroup.objects.get(slug="voice")
    assert group.country == "GB" and list(group.products.all()) == [product]
    assert group.day_start == datetime.time(8)
    response = client.post(reverse("care-group-edit", args=["voice"]),
                           group_data(product, name="Voice Self Service", products=[]))
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.name == "Voice Self Service" and not group.products.exists()
    actions = list(AuditEntry.objects.filter(object_kind="support_group")
                   .values_list("action", flat=True))
    assert sorted(actions) == ["created", "updated"]
    assert "Voice Self Service" in client.get(reverse("care-setup")).content.decode()


def test_group_values_are_checked_beside_the_fields(page_as, care_manager, product):
    response = page_as(care_manager).post(reverse("care-group-new"), group_data(
        product, timezone="Mars/Olympus", country="U1", day_end="08:00"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"timezone", "country", "day_end"} <= set(errors)
    assert 'value="Mars/Olympus"' in response.content.decode()
    assert not SupportGroup.objects.exists()
    response = page_as(care_manager).post(reverse("care-group-new"), group_data(
        product, workdays=[], country="USA"))
    assert response.status_code == 400
    assert {"workdays", "country"} <= set(response.context["form"].errors)


def test_an_expert_with_skills(page_as, care_manager, care_analyst, telephony, product):
    client = page_as(care_manager)
    data = {"user": str(care_analyst.pk), "group": str(telephony.pk),
            "timezone": "Australia/Sydney", "country": "AU", "shift_start": "08:00",
            "shift_end": "17:00", "workdays": ["0", "1"], "max_open_cases": "10",
            "is_available": "on", f"skill_{product.slug}": "3"}
    assert client.post(reverse("care-expert-new"), data).status_code == 302
    expert = Expert.objects.get(user=care_analyst)
    assert expert.skills.get().level == 3 and expert.max_open_cases == 10
    data.pop("user")
    data[f"skill_{product.slug}"] = ""
    data["shift_end"] = "08:00"
    response = client.post(reverse("care-expert-edit", args=[expert.pk]), data)
    assert response.status_code == 400 and "shift_end" in response.context["form"].errors
    data["shift_end"] = "16:00"
    assert client.post(reverse("care-expert-edit", args=[expert.pk]), data).status_code == 302
    assert not expert.skills.exists()
    assert client.get(reverse("care-expert-edit", args=[99999])).status_code == 404


def test_a_customer_cannot_become_an_expert(care_manager, contact_a, telephony):
    with pytest.raises(ValidationError) as caught:
        setup.expert_save(actor=care_manager, user=contact_a, group=telephony, timezone="UTC",
                          country="US", shift_start=datetime.time(8),
                          shift_end=datetime.time(17), workdays=[0], max_open_cases=5)
    assert "user" in caught.value.message_dict


def test_requirements_are_added_and_removed(page_as, care_manager, product, telephony):
    client = page_as(care_manager)
    response = client.post(reverse("care-requirement-add"), {
        "product": product.slug, "name": "Bad Name!", "label": "x"})
    assert response.status_code == 400 and "name" in response.context["requirement_form"].errors
    assert client.post(reverse("care-requirement-add"), {
        "product": product.slug, "name": "trunk_id", "label": "Trunk ID"}).status_code == 302
    requirement = CaseRequirement.objects.get()
    assert client.post(reverse("care-requirement-remove",
                               args=[requirement.pk])).status_code == 302
    assert not CaseRequirement.objects.exists()
    actions = set(AuditEntry.objects.filter(object_kind="support_group")
                  .values_list("action", flat=True))
    assert {"requirement_added", "requirement_removed"} <= actions
    assert client.post(reverse("care-requirement-remove", args=[requirement.pk])).status_code \
        == 404


def test_escalation_contacts(page_as, care_manager, contact_a):
    client = page_as(care_manager)
    url = reverse("care-escalation-contact", args=["cloud"])
    assert client.get(url).status_code == 200
    response = client.post(url, {"manager": str(contact_a.pk), "phone": "+1 555"})
    assert response.status_code == 400 and "manager" in response.context["form"].errors
    response = client.post(url, {"manager": str(care_manager.pk), "phone": "call me"})
    assert response.status_code == 400 and "phone" in response.context["form"].errors
    assert client.post(url, {"manager": str(care_manager.pk),
                             "phone": "+1 555 0100"}).status_code == 302
    assert EscalationContact.objects.get().phone == "+1 555 0100"
    assert client.get(reverse("care-escalation-contact", args=["moon"])).status_code == 404


def test_the_services_refuse_non_managers(care_analyst, product):
    with pytest.raises(PermissionDenied):
        setup.requirement_add(actor=care_analyst, product=product, name="x", label="X")
