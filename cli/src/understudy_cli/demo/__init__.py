"""``understudy demo``: the operator's decision core (``understudy_operator.core``, public
names only) driving local processes: model-api per version, the shadow router, optionally
Prometheus. ``run.py`` is the entry; ``controller.py`` calls the core's ``run_step``;
``workloads.py`` is the core's ``Actuator`` for processes; ``scrape_source.py`` its
``MetricsSource`` when Prometheus is absent."""
