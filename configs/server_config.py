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
