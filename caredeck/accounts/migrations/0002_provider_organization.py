"""Every install has exactly one provider organization: the one that runs CareDeck."""

import os

from django.db import migrations


def create_provider(apps, schema_editor):
    Organization = apps.get_model("accounts", "Organization")
    Contract = apps.get_model("accounts", "Contract")
    if Organization.objects.filter(kind="provider").exists():
        return
    provider = Organization.objects.create(
        kind="provider",
        name=os.environ.get("CAREDECK_PROVIDER_NAME", "Provider"),
        slug="provider",
    )
    Contract.objects.create(organization=provider)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_provider, migrations.RunPython.noop)]
