"""Tests of idenfy_async's client (mirrors the package's folders)."""
