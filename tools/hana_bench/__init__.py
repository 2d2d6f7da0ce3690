"""hana-bench: side-by-side end-to-end benchmarks of hana-net against udp-raw, tcp and enet.

The entry point is tools/hana-bench; this package holds its parts:
runner (processes), impls (command lines per implementation), lab (loss lab in
network namespaces), scenarios (what is measured) and report (markdown, JSON, plots).
Standard library only.
"""
