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

# Longest search query or chat question, in characters; longer ones get 413. A question is
# a sentence or a paragraph: 2,000 characters are about 2,000 tokens of Chinese, half the
# default model's context window, which must also hold the sources and the answer.
MAX_QUERY_CHARS = 2000

# Longest chat history read with a question, in characters: the questions and answers of its
# last LLM_HISTORY_LEN turns (older turns are not read, whatever their length); longer gets
# 413. Three turns of a question at MAX_QUERY_CHARS and a long answer (512 tokens, about
# 2,000 characters of English) fit.
MAX_HISTORY_CHARS = 12000

# Conversations are kept in KB_ROOT_PATH/.conversations.sqlite, per user (a browser's session,
# an API client's X-Zhiku-Session header, or the login / API token when auth is on). Most
# conversations kept per user (a new one past it gets 409 until old ones are deleted), most
# questions in one conversation, and the longest question or answer kept (characters; a
# longer answer is kept cut, with a note).
MAX_CONVERSATIONS = 1000
MAX_CONVERSATION_TURNS = 500
MAX_MESSAGE_CHARS = 50000

# On SIGTERM or Ctrl-C, seconds to let requests in flight (a streamed answer, an upload being
# indexed) finish before they are cancelled and the server exits; an upload cut short is
# repaired at the next start, as after a crash.
SHUTDOWN_TIMEOUT_S = 5

# Seconds a client may take to send a request's line and headers, or pause in the middle of
# its body, before its connection is closed (a connection that never completes a request
# would otherwise stay open for good).
CLIENT_TIMEOUT_S = 30

# Web pages added by URL (`rag kb add-url`, the API's /urls, the UI's URL box). Off: a URL
# whose host is or resolves to a private, loopback, link-local or other non-public address
# is refused, so that nobody can make the app fetch from services only this machine or its
# network can reach (server-side request forgery). Turn it on for an intranet.
ALLOW_PRIVATE_URLS = False

# Seconds a page may take to arrive (connecting, redirects and the body included).
URL_TIMEOUT_S = 20

# Largest page fetched, in MB; a larger one is refused (only this much is read of it).
URL_MAX_MB = 20
