"""Origin for OpenAlgo's connection keep-warm HEAD pings (contract 13, optional)."""

ROOT_URL = "https://api.mstock.trade"
BASE_URL = ROOT_URL + "/openapi/typeb"
