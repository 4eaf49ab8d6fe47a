"""Policy backends for text agents: scripted, local causal LM, OpenAI-compatible HTTP.

Every backend implements :class:`LLMBackend`: ``generate(prompts) -> answers`` (one answer
string per prompt).  The local causal-LM backend also offers ``score(prompts, candidates)``
(log-probabilities of candidate continuations), which a :class:`ScoringBackend` turns into
constrained answers.

* :class:`ScriptedBackend` — deterministic answers from a list (cycled) or a function of the
  prompt; records every prompt (tests, replay).
* :class:`CausalLMBackend` — a ``transformers`` causal LM with its tokenizer: the tiny GPT-2
  of :mod:`latentlab.preference.lm` trained here, or a pretrained model by name
  (:meth:`CausalLMBackend.from_pretrained`, the GPU path; offline unless the user unsets
  ``HF_HUB_OFFLINE``).  torch and transformers are imported only when it is used.
* :class:`OpenAICompatibleBackend` — ``POST {base_url}/chat/completions`` (or ``/completions``)
  with the standard library only: per-request timeout, retries with exponential backoff on
  connection errors, timeouts, 429 and 5xx; the API key is read from an environment variable
  at request time, sent only in the ``Authorization`` header and never logged or shown in
  ``repr``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "LLMBackend",
    "ScriptedBackend",
    "BackendError",
    "OpenAICompatibleBackend",
    "CausalLMBackend",
    "ScoringBackend",
]

log = logging.getLogger(__name__)


@runtime_checkable
class LLMBackend(Protocol):
    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class BackendError(RuntimeError):
    """A backend could not produce an answer (after its retries)."""


class ScriptedBackend:
    """Answers from ``script``: a list of strings (cycled) or a function ``prompt -> answer``."""

    def __init__(self, script: Sequence[str] | Callable[[str], str]) -> None:
        if not callable(script) and len(script) == 0:
            raise ValueError("script must be a non-empty list of answers or a function")
        self.script = script
        self.prompts: list[str] = []
        self._next = 0

    def generate(self, prompts: Sequence[str]) -> list[str]:
        answers = []
        for prompt in prompts:
            self.prompts.append(prompt)
            if callable(self.script):
                answers.append(self.script(prompt))
            else:
                answers.append(self.script[self._next % len(self.script)])
                self._next += 1
        return answers


class OpenAICompatibleBackend:
    """Chat/completions client for any OpenAI-compatible server (vLLM, llama.cpp, hosted APIs)."""

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", *, chat: bool = True,
                 temperature: float = 0.0, max_tokens: int = 16, timeout: float = 30.0, max_retries: int = 3,
                 backoff: float = 0.5, system_prompt: str | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if backoff < 0:
            raise ValueError(f"backoff must be >= 0, got {backoff}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key_env, self.chat = model, api_key_env, chat
        self.temperature, self.max_tokens = temperature, max_tokens
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self.system_prompt = system_prompt
        self.requests = 0

    def __repr__(self) -> str:  # never shows the key
        return (f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key_env={self.api_key_env!r})")

    def _payload(self, prompt: str) -> tuple[str, dict[str, Any]]:
        common = {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.chat:
            messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
            messages.append({"role": "user", "content": prompt})
            return f"{self.base_url}/chat/completions", {**common, "messages": messages}
        return f"{self.base_url}/completions", {**common, "prompt": prompt}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _extract(self, body: dict[str, Any]) -> str:
        try:
            choice = body["choices"][0]
            return choice["message"]["content"] if self.chat else choice["text"]
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(f"unexpected response shape from {self.base_url}: keys {sorted(body)}") from error

    def complete(self, prompt: str) -> str:
        url, payload = self._payload(prompt)
        data = json.dumps(payload).encode()
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only)
                    return self._extract(json.loads(response.read().decode()))
            except urllib.error.HTTPError as error:
                last_error = f"HTTP {error.code}"
                if error.code != 429 and error.code < 500:
                    raise BackendError(f"{url} answered {last_error}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
                last_error = type(error).__name__
            log.warning("request to %s failed (%s), attempt %d of %d", url, last_error, attempt + 1,
                        self.max_retries + 1)
        raise BackendError(f"{url} failed after {self.max_retries + 1} attempts ({last_error})")

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return [self.complete(p) for p in prompts]


class CausalLMBackend:
    """A local ``transformers`` causal LM: greedy ``generate`` and candidate ``score``."""

    def __init__(self, model: Any, tokenizer: Any, max_new_tokens: int = 4, device: str = "cpu") -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.device = max_new_tokens, device

    @classmethod
    def from_pretrained(cls, name: str, device: str = "cpu", **kwargs: Any) -> CausalLMBackend:
        """Any causal LM by name or local path (offline unless ``HF_HUB_OFFLINE`` is unset)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name).to(device).eval()
        return cls(model, tokenizer, device=device, **kwargs)

    def _encode(self, texts: Sequence[str]):
        import torch

        ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(i) for i in ids)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):  # left padding, so the next token follows the last prompt token
            batch[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
        return batch.to(self.device), mask.to(self.device)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        ids, mask = self._encode(prompts)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=self.max_new_tokens,
                                      do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)

    def next_token_logits(self, prompts: Sequence[str]):
        """Logits of the token after each prompt, ``(len(prompts), vocab)``."""
        import torch

        ids, mask = self._encode(prompts)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        with torch.no_grad():
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        return logits[:, -1]

    def score(self, prompts: Sequence[str], candidates: Sequence[str]):
        """Log-probabilities ``(len(prompts), len(candidates))`` of single-token candidates."""
        import torch

        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in candidates]
        if any(len(i) != 1 for i in ids):
            raise ValueError("score needs every candidate to be a single token of the tokenizer")
        logp = torch.log_softmax(self.next_token_logits(prompts), dim=-1)
        return logp[:, torch.tensor([i[0] for i in ids], device=logp.device)]


class ScoringBackend:
    """Constrained answers: the candidate with the highest log-probability under a scoring backend."""

    def __init__(self, scorer: CausalLMBackend, candidates: Sequence[str]) -> None:
        if len(candidates) < 2:
            raise ValueError(f"candidates needs at least 2 entries, got {list(candidates)}")
        self.scorer, self.candidates = scorer, list(candidates)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        scores = self.scorer.score(prompts, self.candidates)
        return [self.candidates[int(i)] for i in scores.argmax(dim=1)]
