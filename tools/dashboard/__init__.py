"""The chart's Grafana dashboard, generated with grafana-foundation-sdk (`make dashboard`)."""
