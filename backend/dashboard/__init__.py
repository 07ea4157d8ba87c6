"""The web dashboard the coordinator serves itself: the market, a job's page and an inference job's outputs
proven in the browser, kept live by server-sent events. Plain HTML, CSS and JavaScript shipped with the
package (static/): no CDN, no build step. `routes.py` serves the pages and their read API, `views.py` builds
what they show from the index (and stakes from the chain, read-only)."""
