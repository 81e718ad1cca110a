"""The OpenAI-compatible API under /v1: the LLM and each knowledge base (`kb:<name>`) as
models, chat completions (whole or streamed) and embeddings, for clients made for OpenAI's
API (the `openai` package, LangChain's ChatOpenAI, Open WebUI, LobeChat)."""
