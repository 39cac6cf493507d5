"""What placement services announce after commit, for the tasks (and later the live pages) to act on."""

from __future__ import annotations

from django.dispatch import Signal

# After a request is stored: request_id, deadline.
request_sent = Signal()
