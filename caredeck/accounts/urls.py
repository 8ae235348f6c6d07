from django.contrib.auth import views as auth_views
from django.urls import path

from caredeck.accounts import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.password_reset, name="password-reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password-reset-sent"),
    path("password-reset/done/", views.password_set_done, name="password-set-done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordSetView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "invitation/<uidb64>/<token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("access/request/", views.access_request_new, name="access-request-new"),
    path("access/request/thanks/", views.access_request_thanks, name="access-request-thanks"),
    path("admin/", views.admin_home, name="admin-home"),
    path("admin/products/new/", views.product_create, name="product-create"),
    path("admin/products/<slug:product>/", views.product_edit, name="product-edit"),
    path("admin/access-requests/", views.access_request_list, name="access-request-list"),
    path(
        "admin/access-requests/<int:request_id>/",
        views.access_request_detail,
        name="access-request-detail",
    ),
    path("tenants/", views.organization_list, name="organization-list"),
    path("tenants/new/", views.organization_create, name="organization-create"),
    path("tenants/<slug:org>/", views.organization_detail, name="organization-detail"),
    path("tenants/<slug:org>/edit/", views.organization_edit, name="organization-edit"),
    path("tenants/<slug:org>/invite/", views.user_invite, name="user-invite"),
    path("tenants/<slug:org>/partners/", views.partner_link_add, name="partner-link-add"),
    path(
        "partner-links/<int:link_id>/remove/",
        views.partner_link_remove,
        name="partner-link-remove",
    ),
    path("team/", views.team, name="team"),
    path("people/<int:user_id>/", views.user_detail, name="user-detail"),
    path(
        "people/<int:user_id>/designated-contact/",
        views.designated_contact_toggle,
        name="designated-contact-toggle",
    ),
    path(
        "people/<int:user_id>/resend-invitation/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path("account/", views.account, name="account"),
    path("account/tokens/", views.token_create, name="token-create"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
