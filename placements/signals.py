"""What placement services announce after commit, for the tasks (and later the live pages) to act on."""

from __future__ import annotations

from django.dispatch import Signal

# After a request is stored: request_id, deadline.
request_sent = Signal()

# After any change of a request (sent, seen, answered, expired, withdrawn, arrived):
# request_id, location_id, midwife_id, state, version. The live screens and the API stream listen.
request_changed = Signal()
