"""Single-use links e-mailed to people."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Like the password-reset token, but also bound to the invitation's time: sending
    the invitation again makes every earlier link invalid."""

    key_salt = "caredeck.accounts.tokens.InvitationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        invited = user.invited_at.isoformat() if user.invited_at else ""
        return super()._make_hash_value(user, timestamp) + invited


invitation_token_generator = InvitationTokenGenerator()
