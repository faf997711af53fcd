"""The job system: long work (generation, style training) that runs outside the request.

- ``repository``: job rows in the relational store, the one source of truth (admission rules,
  fair claiming, cancellation); ``rows`` holds the table and the statuses.
- ``lease``: who may end a running job (leases, the fence on every write of a running job).
- ``outputs``: what a finished job stores, written in the transaction that marks it done.
- ``queue``: the ``JobQueue`` protocol every engine keeps, and ``JobFront`` (admission + events).
- ``runner``: ``JobExecutor`` (claims and runs jobs, batches compatible ones) and
  ``LocalJobQueue``, the embedded engine (a worker thread in the API process).
- ``celery_engine``: the distributed engine (``tastemaker worker`` processes over a broker).
- ``progress``: job events, in process or through Redis.
- ``generation`` and ``style``: the two job kinds, their requests and handlers.
- ``feedback_inbox`` and ``feedback``: feedback on a generated image, kept durably, then applied
  to the profile.

It uses ``generation``, ``agent`` and ``preference_store``, never ``api``, and reads no settings:
``api/wiring/jobs.py`` builds the engines, rules and handlers from them and passes them in.
Nothing is re-exported here: import the module you need (it keeps import cycles out).
"""
