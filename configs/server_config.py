"""How the web app is served. Plain data; override with `ZHIKU_<NAME>` variables.

The app binds 127.0.0.1 by default. Binding any other address is refused unless both an
API token and a UI login are set here (or `--insecure` is passed on the command line).
"""

# Bearer token required by the REST API (`Authorization: Bearer <token>`); None = no auth.
API_TOKEN = None

# Login for the browser UI; both None = no login.
UI_USERNAME = None
UI_PASSWORD = None

# Chat requests allowed to wait for the LLM at once; more get 503 with Retry-After.
LLM_QUEUE_SIZE = 32

# Host names the app answers to besides 127.0.0.1 / localhost and the address it is bound
# to: e.g. ["zhiku.example.org"] behind a reverse proxy; ["*"] for any. On a loopback bind,
# requests naming any other host are refused (a page re-pointing its name at 127.0.0.1).
ALLOWED_HOSTS = []

# Other web apps (origins "http://host:port") whose pages may send changes to this app
# through the user's browser; the app's own pages always may, other sites never.
ALLOWED_ORIGINS = []
