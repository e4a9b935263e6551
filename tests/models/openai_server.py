"""A small real OpenAI-compatible HTTP server (stdlib, SSE streaming) in front of our hf backend, for tests.

`transformers serve` would need its extra dependencies (fastapi and friends) and loads models by hub id; a hundred
lines of stdlib keep the openai-backend tests offline and fast while still going through real HTTP and the real
`openai` client.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oversight.models import Message, ModelError, Request, Sampling


def make_server(backend, model_name: str = "tiny") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _json(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._json(404, {"error": {"message": "not found"}})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if body.get("model") != model_name:
                return self._json(404, {"error": {"message": f"model {body.get('model')} not found", "code": "model_not_found"}})
            stop = body.get("stop") or ()
            request = Request(
                messages=[Message(m["role"], m["content"]) for m in body["messages"]],
                sampling=Sampling(
                    temperature=body.get("temperature") or 0.0,
                    top_p=body.get("top_p") or 1.0,
                    max_new_tokens=body.get("max_tokens") or 64,
                    stop=(stop,) if isinstance(stop, str) else tuple(stop),
                    seed=body.get("seed"),
                ),
            )
            created = int(time.time())
            try:
                if body.get("logprobs"):
                    top = backend.top_logprobs(request, k=body.get("top_logprobs") or 1)
                    tok_id, text, lp = top[0]
                    entry = {"token": text, "logprob": lp, "bytes": list(text.encode()),
                             "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for _, t, v in top]}
                    return self._json(200, {
                        "id": "cmpl-1", "object": "chat.completion", "created": created, "model": model_name,
                        "choices": [{"index": 0, "finish_reason": "length",
                                     "message": {"role": "assistant", "content": text},
                                     "logprobs": {"content": [entry]}}],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
                    })
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for delta in backend.stream(request):
                        chunk = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": created, "model": model_name,
                                 "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                c = backend.complete([request])[0]
                return self._json(200, {
                    "id": "cmpl-1", "object": "chat.completion", "created": created, "model": model_name,
                    "choices": [{"index": 0, "finish_reason": c.finish_reason,
                                 "message": {"role": "assistant", "content": c.text}}],
                    "usage": {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.tokens,
                              "total_tokens": c.prompt_tokens + c.tokens},
                })
            except ModelError as e:
                return self._json(500, {"error": {"message": str(e)}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
