"""The run lifecycle: a run's request, its queueing and dispatch, its state transitions, locks, events,
progress, lost-run recovery, relaunch, attention and purge."""
