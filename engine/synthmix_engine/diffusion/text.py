"""The built-in model's text side: a word-level tokenizer over a small project vocabulary and a
tiny causal transformer text encoder (CLIP-shaped: token + position embeddings, pre-LN blocks,
final LayerNorm, last hidden state used as cross-attention context).

The token embedding table is an `nn.Embedding` reached through `get_input_embeddings()`, and
`resize_token_embeddings(n)` appends rows, exactly like transformers' CLIPTextModel, so textual
inversion runs the same code on both.
"""
from __future__ import annotations

import json
import os
import re

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Captions used when pretraining on the prior domain ({} = class phrase). The first is the paper's
# prompt; the paper's §6.1 templates are included so those prompts land on known words.
CAPTION_TEMPLATES = [
    "a photo of a {}",
    "a picture of a {}",
    "an image of a {}",
    "a photo of the {}",
    "a {}",
    "a caption of an image of {}",
    "an image from the internet of a {}",
    "describe what a {} looks like",
    "what does a {} look like",
    "how can you identify a {}",
]
PAPER_TEMPLATES = [
    "Describe what a {} looks like?",
    "How can you identify a {}?",
    "What does a {} looks like?",
    "Describe an image from the internet of a {}?",
    "A caption of an image of {}:",
]
STYLE_WORDS = [
    "photo", "picture", "image", "drawing", "painting", "sketch", "cartoon", "rendering", "render",
    "realistic", "blurry", "sharp", "bright", "dark", "small", "large", "big", "close", "up",
    "on", "in", "with", "the", "and", "background", "white", "black", "red", "green", "blue",
    "yellow", "orange", "purple", "gray", "brown", "pink", "style", "low", "high", "quality",
    "simple", "shape", "shapes", "colorful", "object", "objects", "scene", "road", "sky", "water",
    "grass", "field", "flying", "sitting", "standing", "running", "front", "of", "is", "an", "this",
]
DREAMBOOTH_TOKEN = "sks"

_WORD = re.compile(r"<[^<>\s]+>|[a-z0-9]+|[^\sa-z0-9]")


def split_words(text: str) -> list[str]:
    """Lower-case words, digits runs and single punctuation marks; `<...>` stays one token."""
    return _WORD.findall(text.lower())


def default_vocabulary(extra_words: list[str] | None = None) -> list[str]:
    words: list[str] = list(SPECIAL_TOKENS)
    seen = set(words)

    def add(word: str) -> None:
        if word not in seen:
            seen.add(word)
            words.append(word)

    for name in CIFAR10_CLASSES:
        add(name)
    for template in CAPTION_TEMPLATES + PAPER_TEMPLATES:
        for word in split_words(template.replace("{}", " ")):
            add(word)
    for word in STYLE_WORDS + [DREAMBOOTH_TOKEN]:
        add(word)
    for text in extra_words or []:
        for word in split_words(text):
            add(word)
    return words


class WordTokenizer:
    """Word-level tokenizer: `<bos> words... <eos> <pad>...`, fixed length, unknown -> `<unk>`."""

    def __init__(self, tokens: list[str], max_length: int = 20) -> None:
        if tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
            raise ValueError(f"a vocabulary must start with {SPECIAL_TOKENS}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("the vocabulary has duplicate tokens")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.model_max_length = int(max_length)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_token_id(self) -> int:
        return self.index[PAD]

    def ids(self, text: str) -> list[int]:
        """Ids of the words of `text`, without specials, padding or truncation."""
        unk = self.index[UNK]
        return [self.index.get(word, unk) for word in split_words(text)]

    def unknown_words(self, text: str) -> list[str]:
        return [word for word in split_words(text) if word not in self.index]

    def __call__(self, texts: list[str]) -> torch.Tensor:
        length = self.model_max_length
        rows = []
        for text in texts:
            ids = [self.index[BOS]] + self.ids(text)[: length - 2] + [self.index[EOS]]
            rows.append(ids + [self.index[PAD]] * (length - len(ids)))
        return torch.tensor(rows, dtype=torch.long)

    def add_token(self, token: str) -> int:
        if split_words(token) != [token]:
            raise ValueError(f"token {token!r} is not one word (use letters/digits or <name>)")
        if token not in self.index:
            self.index[token] = len(self.tokens)
            self.tokens.append(token)
        return self.index[token]

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as handle:
            json.dump({"type": "word", "max_length": self.model_max_length, "tokens": self.tokens}, handle, indent=0)

    @staticmethod
    def load(folder: str) -> "WordTokenizer":
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as handle:
            raw = json.load(handle)
        return WordTokenizer(raw["tokens"], raw.get("max_length", 20))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ff_mult: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, n, d))
        return x + self.ff(self.norm2(x))


class TinyTextEncoder(ModelMixin, ConfigMixin):
    """A causal transformer over word tokens; `forward(ids)[0]` is the last hidden state."""

    config_name = "config.json"

    @register_to_config
    def __init__(self, vocab_size: int, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 2,
                 max_position_embeddings: int = 20, ff_mult: int = 4) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, hidden_size)
        self.position_embedding = nn.Parameter(torch.zeros(max_position_embeddings, hidden_size))
        self.blocks = nn.ModuleList([_Block(hidden_size, num_heads, ff_mult) for _ in range(num_layers)])
        self.final_norm = nn.LayerNorm(hidden_size)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.01)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.token_embedding

    def resize_token_embeddings(self, new_num_tokens: int) -> nn.Embedding:
        old = self.token_embedding
        if new_num_tokens == old.num_embeddings:
            return old
        new = nn.Embedding(new_num_tokens, old.embedding_dim).to(old.weight.device, old.weight.dtype)
        with torch.no_grad():
            keep = min(new_num_tokens, old.num_embeddings)
            new.weight[:keep] = old.weight[:keep]
            if new_num_tokens > keep:
                new.weight[keep:] = old.weight.mean(dim=0, keepdim=True)
        self.token_embedding = new
        self.register_to_config(vocab_size=new_num_tokens)
        return new

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.token_embedding(input_ids) + self.position_embedding[: input_ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        return (self.final_norm(x),)
