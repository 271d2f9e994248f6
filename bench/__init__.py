"""Benchmarks and the load harness: tooling that measures the product, not part of it.

`python -m bench` (also reached as `python -m sales bench`) runs `bench.measure`; it times the
pages in an app process of its own (`python -m bench.pages`) and, with `--sessions`, drives a
real `streamlit run` server over the websocket (`python -m bench.load`). Nothing in `sales/` or
`ui/` imports this package.
"""
