"""Thin controllers: parse the request, call one service or selector, choose a template."""
