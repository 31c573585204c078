"""Grafana provisioning: the data source, and dashboards built as code (:mod:`.dashboards`)."""
