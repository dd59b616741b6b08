"""Tests of idenfy_async's models (mirrors the package's folders)."""
