"""The ``understudy`` command: ``understudy demo`` (a whole shadow rollout on this machine,
the operator's decision core driving local processes; package ``demo``) and
``understudy logs`` (search the JSON logs in Elasticsearch; ``logsearch.py``)."""
