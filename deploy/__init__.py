"""Deployment: the local launcher (Python), docker-compose assets, Prometheus and Grafana."""
