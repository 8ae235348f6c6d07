from django.urls import path

from caredeck.ideas import views

urlpatterns = [
    path("ideas/", views.idea_list, name="idea-list"),
    path("ideas/roadmap/", views.idea_roadmap, name="idea-roadmap"),
    path("ideas/new/", views.idea_new, name="idea-new"),
    path("ideas/similar/", views.idea_similar, name="idea-similar"),
    path("ideas/grants/", views.idea_grants, name="idea-grants"),
    path("ideas/<str:number>/", views.idea_detail, name="idea-detail"),
    path("ideas/<str:number>/vote/", views.idea_vote, name="idea-vote"),
    path("ideas/<str:number>/unvote/", views.idea_unvote, name="idea-unvote"),
    path("ideas/<str:number>/follow/", views.idea_follow, name="idea-follow"),
    path("ideas/<str:number>/comments/", views.idea_comment, name="idea-comment"),
    path("ideas/<str:number>/comments/<int:comment_id>/mark/", views.idea_comment_mark,
         name="idea-comment-mark"),
    path("ideas/<str:number>/comments/<int:comment_id>/hide/", views.idea_comment_hide,
         name="idea-comment-hide"),
    path("ideas/<str:number>/transition/", views.idea_transition, name="idea-transition"),
    path("ideas/<str:number>/update/", views.idea_update, name="idea-update"),
    path("ideas/<str:number>/merge/", views.idea_merge, name="idea-merge"),
]
