"""Any OpenAI-compatible server (vLLM, SGLang, `transformers serve`, hosted APIs) through the `openai` client.

The server does the batching; we only keep up to `max_concurrency` requests in flight from this process.
Choice scoring asks for one answer letter with `logprobs`/`top_logprobs` and reads the letters' probabilities from the
first token; a server that returns no log-probabilities gets the question asked plainly and the letter it answers
scores 1 (a hard answer).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from oversight.models.base import Backend
from oversight.models.config import OpenAIConfig
from oversight.models.errors import ModelError, ModelNotFound, ModelTimeout
from oversight.models.types import Completion, Message, Request, as_request, option_letter


class OpenAIBackend(Backend):
    def __init__(self, config: OpenAIConfig):
        super().__init__(config)
        self._client = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        import openai

        cfg = self.config
        if not cfg.base_url:
            raise ModelNotFound(f"Model {cfg.name!r} (openai) has no server address.", setting=cfg.setting("base_url"))
        # Local servers accept any key; hosted APIs read it from the environment variable the config names.
        key = os.environ.get(cfg.api_key_env) or "EMPTY"
        self._client = openai.OpenAI(base_url=cfg.base_url, api_key=key, timeout=cfg.timeout_s, max_retries=0)
        self._pool = ThreadPoolExecutor(max_workers=cfg.max_concurrency, thread_name_prefix=f"openai-{cfg.name}")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _translate(self, e: Exception) -> ModelError:
        import openai

        cfg = self.config
        # Messages reach participants: never the server's address or its raw reply (those go in `detail`).
        detail = f"server {cfg.base_url}: {type(e).__name__}: {e}"
        if isinstance(e, openai.APITimeoutError):
            return ModelTimeout(f"Model {cfg.name!r}: its server timed out.", setting=cfg.setting("timeout_s"),
                                detail=detail)
        if isinstance(e, openai.APIConnectionError):
            return ModelNotFound(f"Model {cfg.name!r}: cannot reach its server.", setting=cfg.setting("base_url"),
                                 detail=detail)
        if isinstance(e, openai.NotFoundError):
            return ModelNotFound(f"Model {cfg.name!r}: its server has no model {cfg.model!r}.",
                                 setting=cfg.setting("model"), detail=detail)
        if isinstance(e, openai.AuthenticationError):
            return ModelError(f"Model {cfg.name!r}: the server refused the API key.", setting=cfg.setting("api_key_env"),
                              detail=detail)
        status = getattr(e, "status_code", None)
        return ModelError(f"Model {cfg.name!r}: its server answered with an error"
                          + (f" (HTTP {status})." if status else "."), detail=detail)

    def _args(self, request: Request) -> dict:
        s = request.sampling
        args = {
            "model": self.config.model or "default",
            "messages": [{"role": m.role, "content": m.content} for m in request.chat()],
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_new_tokens,
            "timeout": request.timeout_s if request.timeout_s is not None else self.config.timeout_s,
        }
        if s.stop:
            args["stop"] = list(s.stop)[:4]  # the API accepts at most four
        if s.seed is not None:
            args["seed"] = s.seed
        return args

    def _call(self, **args):
        self.load()
        self.stats.enqueue()
        self.stats.start()
        try:
            return self._client.chat.completions.create(**args)
        except Exception as e:
            err = self._translate(e)
            self.stats.error(f"{err} [{err.detail}]")  # the admin's Models page, not participants
            raise err from e
        finally:
            self.stats.finish()

    def _one(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        resp = self._call(**self._args(request))
        choice = resp.choices[0]
        text = choice.message.content or ""
        usage = getattr(resp, "usage", None)
        tokens = usage.completion_tokens if usage and usage.completion_tokens is not None else len(text.split())
        self.stats.tokens(tokens)
        finish = "length" if choice.finish_reason == "length" else "stop"
        prompt_tokens = usage.prompt_tokens if usage and usage.prompt_tokens is not None else 0
        return Completion(text, tokens, time.perf_counter() - t0, finish, prompt_tokens, self.name)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        self.load()
        if len(requests) == 1:
            return [self._one(requests[0])]
        self.stats.batch(len(requests))
        return list(self._pool.map(self._one, requests))

    def stream(self, request: Request) -> Iterator[str]:
        t0 = time.perf_counter()
        n = 0
        stream = self._call(**self._args(request), stream=True)
        try:
            for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta.content
                if delta:
                    n += 1
                    yield delta
        except Exception as e:
            if isinstance(e, ModelError):
                raise
            err = self._translate(e)
            self.stats.error(f"{err} [{err.detail}]")  # the admin's Models page, not participants
            raise err from e
        finally:
            stream.close()
            self.stats.tokens(n)
            del t0

    def score_choices(self, prompt, options: Sequence[str]) -> list[float]:
        request = as_request(prompt)
        if not options:
            raise ModelError("score_choices needs at least one option.")
        letters = [option_letter(i) for i in range(len(options))]
        listing = "\n".join(f"{letter}. {o}" for letter, o in zip(letters, options))
        ask = Message("user", f"Answer options:\n{listing}\nReply with the letter of the correct answer only.")
        base = Request(messages=[*request.chat(), ask], timeout_s=request.timeout_s)
        args = self._args(base) | {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 20}
        args.pop("top_p", None)
        resp = self._call(**args)
        choice = resp.choices[0]
        content = getattr(choice.logprobs, "content", None) if choice.logprobs is not None else None
        if content:
            mass = {letter: 0.0 for letter in letters}
            for top in content[0].top_logprobs or []:
                key = top.token.strip().rstrip(".):").upper()
                if key in mass:
                    mass[key] += math.exp(top.logprob)
            total = sum(mass.values())
            if total > 0:
                return [mass[letter] / total for letter in letters]
        # No log-probabilities: ask for the letter and treat the answer as certain.
        args = self._args(base) | {"max_tokens": 5, "temperature": 0.0}
        text = self._call(**args).choices[0].message.content or ""
        m = re.search(r"\b([A-Z])\b", text.upper())
        pick = letters.index(m.group(1)) if m and m.group(1) in letters else None
        if pick is None:
            return [1.0 / len(options)] * len(options)
        return [1.0 if i == pick else 0.0 for i in range(len(options))]

    def info(self) -> dict:
        info = super().info()
        info["device"] = self.config.base_url or "(no base_url)"
        return info
