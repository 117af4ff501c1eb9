"""The embedded default's broker: kombu's filesystem transport, with messages written atomically.

kombu's own ``_put`` creates the message file under its final name and only then writes it, holding an
advisory lock that the consumer never takes: a consumer polling at that instant moves the empty file
away, fails to decode it, and the message is gone (seen here as a run left ``queued`` about once in
a few hundred dispatches). Here the message is written under a name no consumer matches and renamed
into place, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # Same name scheme as kombu (time-ordered, queue after the first dot) so _get is unchanged.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        # No dot in the temporary name: _get only takes files whose text after the first dot is
        # "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f"incomplete-{uuid.uuid4().hex}")
        with open(partial, "wb") as file:
            file.write(str_to_bytes(dumps(payload)))
        os.rename(partial, os.path.join(self.data_folder_out, name))


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make ``filesystem://`` mean this transport in this process (producers and workers alike)."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
