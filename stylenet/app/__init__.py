"""The stylenet web app (``make app``, ``python -m stylenet.app``): stylise photos and videos in the
browser with the bundled models. :mod:`.engine` does the work (no web code), :mod:`.ui` lays out the
Gradio page, :mod:`.__main__` starts the local server (offline: no analytics, no fonts or scripts from
the internet)."""
