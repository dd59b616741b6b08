"""Tests of idenfy_async's wire (mirrors the package's folders)."""
