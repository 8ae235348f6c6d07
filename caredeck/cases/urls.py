from django.urls import path

from caredeck.cases import views

# One POST route per case action; the action names are those of services.TRANSITIONS and
# the API (request-info, propose-solution, ...).
ACTIONS = [
    "comment", "request-info", "provide-info", "propose-solution", "confirm",
    "reject-solution", "close", "reopen", "assign", "collaborators", "criticality",
    "escalate", "acknowledge-escalation",
]

urlpatterns = [
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/queues/", views.case_queues, name="case-queues"),
    path("cases/<str:number>/", views.case_detail, name="case-detail"),
    *[
        path(f"cases/<str:number>/{action}/", views.case_action, {"action": action},
             name=f"case-{action}")
        for action in ACTIONS
    ],
    path("cases/<str:number>/files/<int:item_id>/", views.case_attachment,
         name="case-attachment"),
    path("kb/", views.kb_list, name="kb-list"),
    path("kb/new/", views.kb_new, name="kb-new"),
    path("kb/<str:number>/", views.kb_detail, name="kb-detail"),
    path("kb/<str:number>/edit/", views.kb_edit, name="kb-edit"),
    path("hotfixes/", views.hotfix_list, name="hotfix-list"),
    path("hotfixes/new/", views.hotfix_new, name="hotfix-new"),
    path("hotfixes/<str:number>/release/", views.hotfix_release, name="hotfix-release"),
    path("care/setup/", views.care_setup, name="care-setup"),
    path("care/setup/groups/new/", views.care_group_edit, name="care-group-new"),
    path("care/setup/groups/<slug:slug>/", views.care_group_edit, name="care-group-edit"),
    path("care/setup/experts/new/", views.care_expert_edit, name="care-expert-new"),
    path("care/setup/experts/<int:expert_id>/", views.care_expert_edit,
         name="care-expert-edit"),
    path("care/setup/requirements/", views.care_requirement_add, name="care-requirement-add"),
    path("care/setup/requirements/<int:requirement_id>/remove/",
         views.care_requirement_remove, name="care-requirement-remove"),
    path("care/setup/escalation/<slug:deployment>/", views.care_escalation_contact,
         name="care-escalation-contact"),
]
