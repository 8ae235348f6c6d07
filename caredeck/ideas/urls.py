from django.urls import path

from caredeck.ideas import views

urlpatterns = [
    path("ideas/<str:number>/", views.idea_detail, name="idea-detail"),
]
