"""The jobs table: background work the API reports on (imports, exports), one item collection per job.

``pk = <KIND>#<job id>`` (``IMPORT#...``, ``EXPORT#...``): the job's status item (``#JOB``) and
whatever the job keeps beside it (an import's applied rows, ``ROW#<n>``). Items lapse with the
table's TTL (``expires_at``), as the files in S3 do with the buckets' lifecycle rules.
"""

from __future__ import annotations

from pynamodb.attributes import DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.config import settings

JOB_SK = "#JOB"


class JobsTableItem(Model):
    class Meta:
        table_name = settings.jobs_table
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    expires_at = TTLAttribute(null=True)


def job_pk(kind: str, job_id: str) -> str:
    """``IMPORT#<id>``, ``EXPORT#<id>``."""
    return f"{kind.upper()}#{job_id}"
