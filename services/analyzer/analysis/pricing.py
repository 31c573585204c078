"""What we know about Gemini models: input size limits and list prices, for chunk sizing and
cost estimates. Prices change: they are defaults, and GeminiConfig can override them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    input_token_limit: int
    # USD per million tokens (text, standard tier); None when we do not know the price.
    price_in_per_mtok: float | None
    price_out_per_mtok: float | None


# Published list prices (USD per 1M tokens, paid tier, prompts up to 200k tokens) and input
# limits as of 2025. Thinking tokens are billed as output.
_MODELS: dict[str, ModelInfo] = {
    "gemini-2.5-pro": ModelInfo(1_048_576, 1.25, 10.00),
    "gemini-2.5-flash": ModelInfo(1_048_576, 0.30, 2.50),
    "gemini-2.5-flash-lite": ModelInfo(1_048_576, 0.10, 0.40),
    "gemini-2.0-flash": ModelInfo(1_048_576, 0.10, 0.40),
    "gemini-2.0-flash-lite": ModelInfo(1_048_576, 0.075, 0.30),
    "gemini-1.5-pro": ModelInfo(2_097_152, 1.25, 5.00),
    "gemini-1.5-flash": ModelInfo(1_048_576, 0.075, 0.30),
}
_UNKNOWN = ModelInfo(32_768, None, None)

# Characters per token for prose in European languages is about 4; 3 stays safe for code,
# numbers and other scripts.
_CHARS_PER_TOKEN = 3
# Use a quarter of the context for the document: room for instructions and output, and a
# call on a very large chunk risks the per-call time limit long before the token limit.
_INPUT_SHARE = 0.25
# Above this a single call gets slow and one failure wastes a lot of paid input.
_MAX_CHUNK_CHARS = 120_000
_MIN_CHUNK_CHARS = 4_000


def model_info(model: str) -> ModelInfo:
    """Info for ``model``; versioned names ("gemini-2.5-flash-preview-09-2025") match their
    family by longest prefix."""
    name = model.removeprefix("models/")
    best = max((k for k in _MODELS if name.startswith(k)), key=len, default=None)
    return _MODELS[best] if best else _UNKNOWN


def default_chunk_chars(model: str) -> int:
    limit = model_info(model).input_token_limit
    chars = int(limit * _CHARS_PER_TOKEN * _INPUT_SHARE)
    return max(_MIN_CHUNK_CHARS, min(_MAX_CHUNK_CHARS, chars))


def estimate_cost(
    input_tokens: int, output_tokens: int, price_in: float | None, price_out: float | None
) -> float:
    """Estimated USD cost; an unknown price counts as zero (and callers warn about it)."""
    return (input_tokens * (price_in or 0.0) + output_tokens * (price_out or 0.0)) / 1_000_000
