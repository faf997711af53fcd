"""The job system: long work (generation, style training) that runs outside the request.

- ``repository``: job rows in the relational store, the one source of truth (admission rules,
  fair claiming, leases, cancellation).
- ``queue``: the ``JobQueue`` protocol every engine keeps, and ``JobFront`` (admission + events).
- ``runner``: ``JobExecutor`` (claims and runs jobs, batches compatible ones) and
  ``LocalJobQueue``, the embedded engine (a worker thread in the API process).
- ``celery_engine``: the distributed engine (``tastemaker worker`` processes over a broker).
- ``progress``: job events, in process or through Redis.
- ``generation`` and ``style``: the two job kinds, their requests and handlers.
- ``feedback_inbox`` and ``feedback``: feedback on a generated image, kept durably, then applied
  to the profile.

Nothing is re-exported here: import the module you need (it keeps import cycles out).
"""
