"""Notifications routed by event: named destinations (Slack-style, Microsoft Teams, generic JSON webhooks and
e-mail over SMTP), each subscribed per project and environment to the events it wants, with failure-only and
quiet-hours switches.

``events`` names the events, ``destinations`` and ``subscriptions`` are managed by admins, ``routing`` turns
a run's event into deliveries in the webhooks' outbox (``outbox``, in the transaction of the event),
``rendering`` writes each kind's message, ``quiet_hours`` decides when a message may go, ``smtp`` sends
e-mail, and ``running_long`` is the reaper's duty that notices deploys running longer than usual. The
project webhooks (``playdeck.webhooks``) share the outbox, the sender (``playdeck.webhook_delivery``) and
its delivery log.
"""
