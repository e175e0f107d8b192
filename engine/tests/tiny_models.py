"""Tiny random models in the layouts users have them (no tests here): a char-level CLIP BPE tokenizer
and CLIP text config shared by the SD-shaped folder (test_diffusion.make_tiny_sd) and the whole CLIP
model of the zero-shot baseline (make_tiny_clip). Also run from vitest (`python -c`) to put them in a
store."""
from __future__ import annotations

import json
import os

# Small enough for seconds on one core; the token ids match the tokenizer below.
TINY_CLIP_TEXT = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
                      num_attention_heads=4, num_hidden_layers=2, vocab_size=120, max_position_embeddings=32)
TINY_CLIP_IMAGE_SIZE = 16


def save_tiny_clip_tokenizer(tok_dir: str) -> "object":
    """A char-level CLIP BPE (no merges) saved by transformers' CLIPTokenizer; returns the tokenizer."""
    from transformers import CLIPTokenizer

    os.makedirs(tok_dir, exist_ok=True)
    chars = "abcdefghijklmnopqrstuvwxyz0123456789<>?:"
    vocab = ["<|startoftext|>", "<|endoftext|>"] + list(chars) + [c + "</w>" for c in chars]
    with open(os.path.join(tok_dir, "vocab.json"), "w", encoding="utf-8") as handle:
        json.dump({token: i for i, token in enumerate(vocab)}, handle)
    with open(os.path.join(tok_dir, "merges.txt"), "w", encoding="utf-8") as handle:
        handle.write("#version: 0.2\n")
    tokenizer = CLIPTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"),
                              model_max_length=16)
    tokenizer.save_pretrained(tok_dir)
    return tokenizer


def make_tiny_clip(folder: str, seed: int = 0) -> None:
    """transformers layout (as openai/clip-vit-base-patch32): a random CLIPModel, its tokenizer and a
    CLIP image processor at 16 px, all written by `save_pretrained` into one folder."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(seed)
    os.makedirs(folder, exist_ok=True)
    CLIPModel(CLIPConfig(
        text_config=TINY_CLIP_TEXT,
        vision_config=dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                           image_size=TINY_CLIP_IMAGE_SIZE, patch_size=4),
        projection_dim=16)).save_pretrained(folder)
    tokenizer = save_tiny_clip_tokenizer(folder)
    size = TINY_CLIP_IMAGE_SIZE
    image_processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
