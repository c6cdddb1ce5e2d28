"""Rendering: terminal text, JSON, Markdown and HTML. Submodules import their heavy parts lazily."""
