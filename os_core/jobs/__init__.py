"""The job service (QNE-style): users submit NetQASM application directories over HTTP, the service
runs them on a served network's nodes, keeps jobs and results in a database, and shows the nodes live
on a dashboard. Needs the ``service`` extra; see ``qnodeos jobs serve`` and :mod:`qnodeos.jobs.app`.

Modules: ``network`` (the served network's configuration), ``archive`` and ``submission`` (checking
uploads), ``db`` and ``auth`` (storage, users), ``manager`` and ``worker`` (running jobs in their own
processes), ``plots`` (results; their statistics are :mod:`qnodeos.run_stats`), ``monitor`` (node states), ``app``, ``middleware`` and
``server`` (HTTP).
"""
