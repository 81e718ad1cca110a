"""Start zhiku: `python app.py [--host 127.0.0.1] [--port 7860] [--kb-root knowledge_base/]`.

Only wires and launches; everything is built by `rag.factory`.
"""

from rag.cli import serve_main

if __name__ == "__main__":
    serve_main()
