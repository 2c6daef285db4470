"""The platform's command-line tool: python -m cli (standard library only, over the HTTP API)."""
