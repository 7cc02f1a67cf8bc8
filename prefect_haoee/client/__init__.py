"""Typed httpx client for the Haoee gateway. Imports no Prefect module."""
