"""Tests of idenfy_async's testing (mirrors the package's folders)."""
