"""Account logic: login and logout (``login``), the saved standalone session
(``session``) and funds (``funds``), behind the faces ``api/auth_api.py`` and
``api/funds.py``."""
