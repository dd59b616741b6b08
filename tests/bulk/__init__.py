"""Tests of idenfy_async's bulk (mirrors the package's folders)."""
