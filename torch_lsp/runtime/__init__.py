"""Runtime evaluation (TL901/TL902): the user's modules built and run on the meta
device in a background torch process.

- ``protocol``: the framed, versioned messages between the client and the worker.
- ``jobs``: what to evaluate in a document, from its source (no torch needed):
  the definitions to execute, the call sites with their constructor arguments and
  input tensors.
- ``worker``: the process that imports torch once, then runs jobs.
- ``client``: starts the worker lazily, sends jobs, enforces the time limits,
  restarts it after a crash (with back-off), and never blocks longer than a job's
  timeout.
- ``report``: evaluation results as TL901/TL902 diagnostics.

Nothing here imports torch except ``worker`` (in its own process).
"""
