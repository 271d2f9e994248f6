"""The Streamlit edge: connection, caches, the shared sidebar and drawing helpers.

Pages call `sales` through here; nothing in this package computes a metric.
"""
