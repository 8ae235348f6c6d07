"""The Ideas Lab clocks under frozen time: the PM's 30-business-day answer with its
reminder and escalation, and the in-development update cadence."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.accounts.roles import Role
from caredeck.core.audit import AuditEntry
from caredeck.core.scheduler import tick
from caredeck.ideas import clocks, services
from caredeck.ideas.models import Idea
from caredeck.notify.models import OutboundMessage
from caredeck.web.selectors import worklist_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# A Wednesday before Thanksgiving: the 30 business days run over Thanksgiving (Nov 28),
# Christmas and New Year's Day.
T0 = datetime.datetime(2030, 11, 20, 15, 0, tzinfo=UTC)
REMIND_AT = datetime.datetime(2030, 12, 27, 15, 0, tzinfo=UTC)  # 25 business days on
DUE_AT = datetime.datetime(2031, 1, 6, 15, 0, tzinfo=UTC)  # 30 business days on
SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lead(provider, lab):
    person = UserFactory(email="lead@provider.test", name="Lee Lead", organization=provider,
                         roles=[Role.PRODUCT_MANAGER])
    lab.lead = person
    lab.save()
    return person


@pytest.fixture
def admin(platform_admin):
    return platform_admin


def fresh(idea) -> Idea:
    return Idea.objects.get(pk=idea.pk)


def clock_mail(user, text: str = ""):
    return OutboundMessage.objects.filter(
        recipient=user.email, channel="email", event="idea.pm_clock", subject__contains=text
    )


def reach_threshold(idea, voters) -> Idea:
    for voter in voters[:3]:
        services.vote_cast(actor=voter, idea=idea)
    idea = fresh(idea)
    assert idea.status == "under_pm_review"
    return idea


def test_the_answer_is_due_30_business_days_later_across_the_holidays(frozen, idea, voters):
    idea = reach_threshold(idea, voters)
    # Without Thanksgiving, Christmas and New Year's Day it would be Tuesday Dec 31.
    assert idea.threshold_reached_at == T0
    assert idea.pm_answer_due_at == DUE_AT
    assert idea.pm_remind_at == REMIND_AT  # 5 business days before (Dec 30, 31, Jan 2, 3, 6)
    assert idea.pm_escalate_at == DUE_AT
    assert clocks.next_due() == REMIND_AT


def test_the_reminder_goes_to_the_lead_at_its_instant_and_not_before(
    frozen, idea, voters, lead, pm
):
    idea = reach_threshold(idea, voters)
    frozen.move_to(REMIND_AT - SECOND)
    tick("test")
    assert not clock_mail(lead, "needs your public answer").exists()

    frozen.move_to(REMIND_AT)
    tick("test")
    tick("test")  # a second tick (or a restarted scheduler) sends nothing more
    (mail,) = clock_mail(lead, "needs your public answer")
    assert mail.subject == f"{idea.number} needs your public answer by 2031-01-06"
    assert "ESCALATION" not in mail.subject
    assert not clock_mail(pm, "needs your public answer").exists()  # the lead answers
    idea = fresh(idea)
    assert idea.pm_remind_at is None and idea.pm_escalate_at == DUE_AT
    assert AuditEntry.objects.filter(object_id=idea.number,
                                     action="pm_answer_reminded").count() == 1
    assert clocks.next_due() == DUE_AT


def test_without_a_lead_every_product_manager_is_reminded(frozen, idea, voters, pm):
    other = UserFactory(email="pm2@provider.test", organization=pm.organization,
                        roles=[Role.PRODUCT_MANAGER])
    reach_threshold(idea, voters)
    frozen.move_to(REMIND_AT)
    tick("test")
    assert clock_mail(pm, "needs your public answer").count() == 1
    assert clock_mail(other, "needs your public answer").count() == 1


def test_a_missed_answer_is_escalated_once_to_the_lead_and_the_product_managers(
    frozen, idea, voters, lead, pm, admin
):
    idea = reach_threshold(idea, voters)
    frozen.move_to(REMIND_AT)
    tick("test")
    frozen.move_to(DUE_AT - SECOND)
    tick("test")
    assert not OutboundMessage.objects.filter(subject__contains="ESCALATION").exists()

    frozen.move_to(DUE_AT)
    tick("test")
    tick("test")
    for person in (lead, pm):
        (mail,) = clock_mail(person, "ESCALATION")
        assert "due 2031-01-06 and is missing" in mail.subject
        assert "escalated to the product's lead" in mail.subject
    assert not clock_mail(admin).exists()  # the product has a lead who answers for it
    idea = fresh(idea)
    assert idea.pm_escalate_at is None and idea.pm_remind_at is None
    assert idea.status == "under_pm_review"  # the answer is still owed, and visible
    frozen.move_to(DUE_AT + datetime.timedelta(days=30))
    tick("test")
    assert OutboundMessage.objects.filter(subject__contains="ESCALATION",
                                          channel="email").count() == 2


def test_without_a_lead_the_escalation_reaches_the_platform_admins_too(
    frozen, idea, voters, pm, admin
):
    reach_threshold(idea, voters)
    frozen.move_to(DUE_AT + datetime.timedelta(hours=3))  # the scheduler was down
    tick("test")
    assert clock_mail(pm, "ESCALATION").count() == 1
    assert clock_mail(admin, "ESCALATION").count() == 1
    # Past due, a late reminder would only confuse: the escalation replaces it.
    assert not OutboundMessage.objects.filter(subject__contains="needs your public").exists()


@pytest.mark.parametrize("answer", ["accepted", "declined", "pm_update"])
def test_nothing_fires_once_the_pm_answered(frozen, idea, voters, lead, pm, answer):
    idea = reach_threshold(idea, voters)
    frozen.move_to(T0 + datetime.timedelta(days=3))
    if answer == "pm_update":
        services.idea_update_post(actor=pm, idea=idea, message="We are looking at it.")
    elif answer == "accepted":
        services.idea_transition(actor=pm, idea=idea, status="accepted", message="Yes.",
                                 target_quarter="2031-Q2")
    else:
        services.idea_transition(actor=pm, idea=idea, status="declined", message="No.",
                                 reason="Out of scope.")
    idea = fresh(idea)
    assert idea.pm_answered_at == T0 + datetime.timedelta(days=3)
    for moment in (REMIND_AT, DUE_AT, DUE_AT + datetime.timedelta(days=10)):
        frozen.move_to(moment)
        tick("test")
    assert clocks.next_due() is None
    # Only the threshold notice of the day it was reached.
    assert list(OutboundMessage.objects.filter(event="idea.pm_clock", channel="email")
                .values_list("subject", flat=True)) == [
        f"{idea.number} needs a PM answer by 2031-01-06"]


def test_the_task_rechecks_what_is_due_so_a_stale_enqueue_sends_nothing(
    frozen, idea, voters, lead, pm
):
    idea = reach_threshold(idea, voters)
    frozen.move_to(REMIND_AT)
    assert clocks.fire(idea.pk) == {"reminders": 1, "escalations": 0, "dev_reminders": 0}
    # The same task run again (a duplicate in the queue, a retry after a crash).
    assert clocks.fire(idea.pk) == {"reminders": 0, "escalations": 0, "dev_reminders": 0}
    services.idea_update_post(actor=pm, idea=idea, message="Under review with design.")
    frozen.move_to(DUE_AT)
    assert clocks.enqueue_due() == 0
    assert clocks.fire(idea.pk) == {"reminders": 0, "escalations": 0, "dev_reminders": 0}
    assert clock_mail(lead).count() == 2  # the threshold notice and the one reminder


def test_the_in_development_reminder_repeats_every_60_days_without_an_update(
    frozen, idea, voters, lead, pm
):
    idea = reach_threshold(idea, voters)
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Planned.",
                             target_quarter="2031-Q2")
    services.idea_transition(actor=pm, idea=idea, status="in_development",
                             message="Engineering has started.")
    day = datetime.timedelta(days=1)
    assert fresh(idea).dev_update_due_at == T0 + 60 * day

    def dev_reminders():
        return clock_mail(lead, "needs a public update")

    frozen.move_to(T0 + 60 * day - SECOND)
    tick("test")
    assert not dev_reminders().exists()
    frozen.move_to(T0 + 60 * day)
    tick("test")
    tick("test")
    assert dev_reminders().count() == 1
    assert "(the last was 2030-11-20)" in dev_reminders().get().subject
    assert fresh(idea).dev_update_due_at == T0 + 120 * day

    frozen.move_to(T0 + 119 * day)
    tick("test")
    assert dev_reminders().count() == 1
    frozen.move_to(T0 + 120 * day)
    tick("test")
    assert dev_reminders().count() == 2

    # A public update restarts the cadence from the day it was posted.
    frozen.move_to(T0 + 130 * day)
    services.idea_update_post(actor=pm, idea=idea, message="Beta in March.")
    assert fresh(idea).dev_update_due_at == T0 + 190 * day
    frozen.move_to(T0 + 180 * day)
    tick("test")
    assert dev_reminders().count() == 2
    frozen.move_to(T0 + 190 * day)
    tick("test")
    assert dev_reminders().count() == 3
    assert AuditEntry.objects.filter(object_id=idea.number,
                                     action="dev_update_reminded").count() == 3


def test_after_a_long_outage_one_dev_reminder_goes_out_and_the_rhythm_holds(
    frozen, idea, voters, lead, pm
):
    idea = reach_threshold(idea, voters)
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Planned.",
                             target_quarter="2031-Q2")
    services.idea_transition(actor=pm, idea=idea, status="in_development", message="Go.")
    frozen.move_to(T0 + datetime.timedelta(days=200))
    tick("test")
    tick("test")
    assert clock_mail(lead, "needs a public update").count() == 1
    assert fresh(idea).dev_update_due_at == T0 + datetime.timedelta(days=240)


def test_delivery_stops_the_development_clock(frozen, idea, voters, lead, pm):
    idea = reach_threshold(idea, voters)
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Planned.",
                             target_quarter="2031-Q2")
    services.idea_transition(actor=pm, idea=idea, status="in_development", message="Go.")
    services.idea_transition(actor=pm, idea=idea, status="delivered", message="Shipped.",
                             release_notes_url="https://docs.example/release/31.1")
    frozen.move_to(T0 + datetime.timedelta(days=61))
    tick("test")
    assert not clock_mail(lead, "needs a public update").exists()
    assert clocks.next_due() is None


def test_the_worklist_shows_the_pm_what_is_due(frozen, idea, voters, lead, pm, member_a,
                                                tenant_a):
    idea = reach_threshold(idea, voters)
    (row,) = [w for w in worklist_for(lead, lead.organization) if idea.number in w.title]
    assert row.due_at == DUE_AT and "PM answer due" in row.title
    assert "30 business days left" in row.detail
    # The product has a lead: other product managers and customers see nothing of it.
    assert not [w for w in worklist_for(pm, pm.organization) if idea.number in w.title]
    assert not [w for w in worklist_for(member_a, tenant_a) if idea.number in w.title]

    services.idea_transition(actor=lead, idea=idea, status="accepted", message="Planned.",
                             target_quarter="2031-Q2")
    services.idea_transition(actor=lead, idea=idea, status="in_development", message="Go.")
    assert not [w for w in worklist_for(lead, lead.organization) if idea.number in w.title]
    frozen.move_to(T0 + datetime.timedelta(days=47))  # the update is due in 13 days
    (row,) = [w for w in worklist_for(lead, lead.organization) if idea.number in w.title]
    assert "development update due" in row.title
    assert row.due_at == T0 + datetime.timedelta(days=60)
