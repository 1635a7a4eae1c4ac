"""Operator console: `apeiria console` serves a web page (static files in ``static/``,
no build step) and a WebSocket bridge to the grounding node over ROS 2.

``bridge.py`` is the ROS side (Ground service client, SceneMap / status / diagnostics
subscriptions on their own executor thread), ``server.py`` the aiohttp side (page,
WebSocket protocol, input checks, speech), ``protocol.py`` the JSON the two exchange.
"""
