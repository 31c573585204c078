"""``make chaos``: the fault suite. A full local stack (two replicas of each agent) processes
hundreds of real documents while its processes are killed and its broker and database are
restarted; at the end every document is checked against what its file must give.

Modules: ``samples`` (the corpus mix and what each file must give), ``client`` (uploads,
cancels and WebSocket watchers that behave like a patient real client), ``events`` (the live
log of documents.events and the refold), ``faults`` (the kill/restart schedule), ``checks``
(verdicts and figures), ``harness`` (one run, start to stop), ``report`` (table, JSON, docs).
"""
