"""``mstock-openalgo verify``: prove the plugin inside a real OpenAlgo, on this machine.

A throw-away copy of the user's OpenAlgo checkout gets this plugin, a ``.env`` pointing at
the embedded mStock sandbox and free loopback ports; OpenAlgo and its WebSocket proxy run
with the checkout's own Python. Then, only through OpenAlgo's own routes, a list of named
checks (:data:`checks.CHECKS`) walks what a user does: first-run setup, logins, the master
contract, the REST API v1, the WebSocket and (``--browser``) the web pages, comparing every
answer with the sandbox's own state. The same checks run under pytest (``tests/inhost``).

Modules, top to bottom: ``run`` (the command and its table) -> ``checks`` (the list) ->
``order_updates`` (the ``order_update`` checks) -> ``client`` (OpenAlgo's HTTP and WebSocket),
``browser`` (headless Chromium), ``oracle`` (the sandbox's state) -> ``stack`` (copy, install,
``.env``, processes, clean-up).
"""
