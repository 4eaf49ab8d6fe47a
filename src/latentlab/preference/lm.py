r"""Causal language models as :class:`~latentlab.preference.policy.Policy` objects.

Three ways to get one, all through :class:`CausalLMPolicy`:

* :func:`tiny_lm_policy` — a tiny GPT-2 (``transformers.GPT2Config``, 2–4 layers, width
  64–128) built locally, with a word-level tokenizer built in code (``tokenizers``);
  nothing is downloaded.  Vocabulary: ``<pad> <eos> <bos> <unk>``, one word per prompt
  (``p0 p1 ...``) and one per response token (``t0 t1 ...``); prompt ``x`` is the token
  pair ``<bos> p{x}``.
* :func:`build_word_tokenizer` + :func:`build_tiny_gpt2` — the same pieces, for other
  families (agents, reward models) that need their own vocabulary.
* :func:`pretrained_lm_policy` — any causal LM by name through
  ``AutoModelForCausalLM.from_pretrained`` (the GPU path; the Hugging Face hub is reached
  only if the user unsets ``HF_HUB_OFFLINE``).

The policy over response tokens is the LM's next-token distribution restricted to the
response words and renormalised (``restrict=True``, the default), so its support is the
task's action set; ``restrict=False`` keeps the full-vocabulary log-softmax (what TRL
computes).  ``transformers`` is imported only when this module is used (the ``llm`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__all__ = [
    "SPECIAL_TOKENS",
    "build_word_tokenizer",
    "tiny_gpt2_config",
    "build_tiny_gpt2",
    "CausalLMPolicy",
    "tiny_lm_policy",
    "word_lm_policy",
    "pretrained_lm_policy",
    "LastTokenRewardModel",
]

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<eos>", "<bos>", "<unk>")


def _require_llm() -> None:
    try:
        import tokenizers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the causal-LM path needs the 'llm' extra: pip install 'latentlab[llm]' "
                          "(transformers, tokenizers)") from error


def build_word_tokenizer(words: Sequence[str], special_tokens: Sequence[str] = SPECIAL_TOKENS) -> Any:
    """A ``PreTrainedTokenizerFast`` over whitespace-separated ``words`` (WordLevel model, built in memory).

    Ids: ``special_tokens`` first (pad, eos, bos, unk), then ``words`` in order.
    """
    _require_llm()
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if len(special_tokens) != 4:
        raise ValueError(f"special_tokens must be (pad, eos, bos, unk), got {tuple(special_tokens)}")
    vocab_list = list(special_tokens) + list(words)
    if len(set(vocab_list)) != len(vocab_list):
        raise ValueError("words must be unique and distinct from the special tokens")
    vocab = {w: i for i, w in enumerate(vocab_list)}
    pad, eos, bos, unk = special_tokens
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=pad, eos_token=eos, bos_token=bos, unk_token=unk)


def tiny_gpt2_config(vocab_size: int, n_layer: int = 2, n_head: int = 2, n_embd: int = 64,
                     n_positions: int = 64, dropout: float = 0.0) -> Any:
    """A ``GPT2Config`` for a tiny model (no dropout by default, so training is deterministic)."""
    _require_llm()
    from transformers import GPT2Config

    if vocab_size < 2 or n_layer < 1 or n_head < 1 or n_embd % n_head:
        raise ValueError(f"need vocab_size >= 2, n_layer >= 1, n_head >= 1 and n_embd divisible by n_head; "
                         f"got vocab_size={vocab_size}, n_layer={n_layer}, n_head={n_head}, n_embd={n_embd}")
    return GPT2Config(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=n_positions,
                      resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, bos_token_id=2, eos_token_id=1,
                      pad_token_id=0)


def build_tiny_gpt2(vocab_size: int, seed: int = 0, **config: Any) -> nn.Module:
    """A randomly initialised ``GPT2LMHeadModel`` (seeded; float32, eager attention)."""
    _require_llm()
    from transformers import GPT2LMHeadModel

    cfg = tiny_gpt2_config(vocab_size, **config)
    cfg._attn_implementation = "eager"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(cfg)
    model.eval()
    return model


class CausalLMPolicy(nn.Module):
    r"""A causal LM seen as a policy over ``vocab_size`` response tokens.

    ``prompt_ids[x]`` is the LM token sequence of prompt ``x`` (``(P, L_p)``, same length for
    all prompts); ``response_ids[k]`` is the LM id of response token ``k`` (``(V,)``).
    :meth:`position_log_probs` runs one forward pass on ``prompt ⊕ y_{<T}`` and reads the
    next-token distribution at the last prompt position and every response position.
    """

    def __init__(self, model: nn.Module, prompt_ids: torch.Tensor, response_ids: torch.Tensor, horizon: int,
                 restrict: bool = True, tokenizer: Any = None) -> None:
        super().__init__()
        if prompt_ids.ndim != 2 or prompt_ids.shape[1] < 1:
            raise ValueError(f"prompt_ids must have shape (P, L_p >= 1), got {tuple(prompt_ids.shape)}")
        if response_ids.ndim != 1 or response_ids.shape[0] < 2:
            raise ValueError(f"response_ids must have shape (V >= 2,), got {tuple(response_ids.shape)}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.model = model
        self.register_buffer("prompt_ids", prompt_ids.long(), persistent=False)
        self.register_buffer("response_ids", response_ids.long(), persistent=False)
        self.vocab_size = int(response_ids.shape[0])
        self.horizon = horizon
        self.restrict = restrict
        self.tokenizer = tokenizer

    def input_ids(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """LM input ``prompt ⊕ response`` (all response tokens), ``(B, L_p + T)``."""
        return torch.cat([self.prompt_ids[prompts], self.response_ids[responses]], dim=1)

    def hidden_states(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """Last hidden states of the backbone on ``prompt ⊕ response``, ``(B, L_p + T, d)``."""
        backbone = getattr(self.model, "transformer", None) or self.model.base_model
        return backbone(input_ids=self.input_ids(prompts, responses)).last_hidden_state

    def position_log_probs(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        if prompts.ndim != 1 or responses.ndim != 2 or responses.shape[0] != prompts.shape[0]:
            raise ValueError(f"prompts (B,) and responses (B, T) must agree, got {tuple(prompts.shape)}, "
                             f"{tuple(responses.shape)}")
        t = responses.shape[1]
        ids = torch.cat([self.prompt_ids[prompts], self.response_ids[responses[:, : t - 1]]], dim=1)
        logits = self.model(input_ids=ids).logits[:, self.prompt_ids.shape[1] - 1 :]
        if self.restrict:
            return torch.log_softmax(logits[..., self.response_ids], dim=-1)
        return torch.log_softmax(logits, dim=-1)[..., self.response_ids]


def word_lm_policy(prompt_words: Sequence[Sequence[str]], response_words: Sequence[str], horizon: int,
                   seed: int = 0, restrict: bool = True, **config: Any) -> CausalLMPolicy:
    """A :class:`CausalLMPolicy` on a fresh tiny GPT-2 over a word vocabulary built in code.

    Prompt ``x`` is ``<bos>`` followed by the words ``prompt_words[x]`` (all prompts the same
    length); response token ``k`` is the word ``response_words[k]``.  The tokenizer's
    vocabulary is the special tokens, the distinct prompt words, then the response words.
    ``config`` goes to :func:`tiny_gpt2_config` (``n_layer``, ``n_head``, ``n_embd``, ...).
    """
    if len(prompt_words) < 1 or len({len(p) for p in prompt_words}) != 1:
        raise ValueError("prompt_words must hold at least one prompt, all of the same number of words")
    if len(response_words) < 2 or horizon < 1:
        raise ValueError(f"need >= 2 response words and horizon >= 1, got {len(response_words)}, {horizon}")
    prompt_vocab = list(dict.fromkeys(w for p in prompt_words for w in p))
    tokenizer = build_word_tokenizer(prompt_vocab + list(response_words))
    vocab = tokenizer.get_vocab()
    bos = vocab[SPECIAL_TOKENS[2]]
    prompt_ids = torch.tensor([[bos] + [vocab[w] for w in p] for p in prompt_words])
    response_ids = torch.tensor([vocab[w] for w in response_words])
    config.setdefault("n_positions", max(16, prompt_ids.shape[1] + horizon + 1))
    model = build_tiny_gpt2(len(vocab), seed=seed, **config)
    return CausalLMPolicy(model, prompt_ids, response_ids, horizon, restrict=restrict, tokenizer=tokenizer)


def tiny_lm_policy(n_prompts: int, vocab_size: int, horizon: int, seed: int = 0, restrict: bool = True,
                   **config: Any) -> CausalLMPolicy:
    """A :class:`CausalLMPolicy` for integer prompts ``<bos> p{x}`` and response words ``t0 .. t{V-1}``."""
    if n_prompts < 1 or vocab_size < 2 or horizon < 1:
        raise ValueError(f"need n_prompts >= 1, vocab_size >= 2, horizon >= 1; got {n_prompts}, {vocab_size}, "
                         f"{horizon}")
    return word_lm_policy([[f"p{i}"] for i in range(n_prompts)], [f"t{k}" for k in range(vocab_size)], horizon,
                          seed=seed, restrict=restrict, **config)


def pretrained_lm_policy(name: str, prompts: Sequence[str], response_words: Sequence[str], horizon: int,
                         device: str = "cpu", restrict: bool = True, **kwargs: Any) -> CausalLMPolicy:
    """Wrap a pretrained causal LM (``AutoModelForCausalLM.from_pretrained(name)``) as a policy.

    ``prompts`` are tokenised left-padded to a common length; each entry of
    ``response_words`` must be a single token of the model's tokenizer.
    """
    _require_llm()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    width = max(len(i) for i in ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompt_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
    response = []
    for word in response_words:
        token = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(token) != 1:
            raise ValueError(f"response word {word!r} is not a single token of {name} ({token})")
        response.append(token[0])
    model = AutoModelForCausalLM.from_pretrained(name, **kwargs).to(device)
    return CausalLMPolicy(model, prompt_ids.to(device), torch.tensor(response, device=device), horizon,
                          restrict=restrict, tokenizer=tokenizer)


class LastTokenRewardModel(nn.Module):
    r"""Explicit reward model :math:`r_\phi(x, y) = w^\top h_\phi(x, y)_{\text{last}} + b` on a causal-LM backbone."""

    def __init__(self, policy: CausalLMPolicy) -> None:
        super().__init__()
        self.policy = policy
        width = policy.model.config.n_embd
        self.head = nn.Linear(width, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        return self.head(self.policy.hidden_states(prompts, responses)[:, -1]).squeeze(-1)
