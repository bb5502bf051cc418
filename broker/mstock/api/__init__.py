"""OpenAlgo's faces: exactly the modules OpenAlgo's core imports by name, plus the boundary.

``auth_api`` (login), ``order_api`` (orders and books), ``data`` (``BrokerData``), ``funds``,
``margin_api``, ``baseurl`` (no keep-warm origin: see its docstring) and ``boundary``
(argument checks, and where exceptions become OpenAlgo's return shapes). Each face
resolves the client and the symbol lookup, calls one function of the layer below and is
wrapped by one boundary decorator.
"""
