"""Site modules for ``kind = "html"`` pages too odd for CSS selectors.

``[sources.html] parser = "<name>"`` makes the html extractor hand the page to
``aggregator/extract/sites/<name>.py``: its ``extract(body, ctx) -> Extraction``
(and, if it has one, ``enrich(event, body, ctx)`` for detail pages; else the
generic detail step of ``html.py`` is used). Keep each module small: parse with
``html.parse_html``, read dates with ``html.read_when``, build events with
``html.build_event`` and ``html.finish``; one saved page and one test per module.
"""
