"""The web app (网页与接口): app factory, layout, static assets and shared UI pieces.

`jingxin.web.app.create_app(settings)` builds the FastAPI app; scenario packages contribute
pages, `/api/v1` routes and navigation items through `jingxin.web.registry.WebScenario`.
"""
