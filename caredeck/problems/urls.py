from django.urls import path

from caredeck.problems import views

urlpatterns = [
    path("problems/", views.problem_list, name="problem-list"),
    path("problems/new/", views.problem_new, name="problem-new"),
    path("problems/<str:number>/", views.problem_detail, name="problem-detail"),
    path("problems/<str:number>/edit/", views.problem_edit, name="problem-edit"),
    path("problems/<str:number>/transition/", views.problem_transition,
         name="problem-transition"),
    path("problems/<str:number>/rca/", views.problem_rca_save, name="problem-rca"),
    path("problems/<str:number>/rca/publish/", views.problem_rca_publish,
         name="problem-rca-publish"),
    path("problems/<str:number>/link/", views.problem_link, name="problem-link"),
    path("problems/<str:number>/unlink/", views.problem_unlink, name="problem-unlink"),
    path("problems/<str:number>/action-items/<int:item_id>/", views.action_item_toggle,
         name="problem-action-item"),
    path("incidents/<str:number>/review/", views.incident_review, name="incident-review"),
    path("incidents/<str:number>/review/action-items/", views.review_action_item_add,
         name="incident-review-action-item"),
]
