"""Tiny random models with real tokenizers, built in code in seconds: for tests, demos and the e2e suite."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from worker.training.data import CHATML_TEMPLATE  # the tiny model's own template

#: pad and eos are distinct so padding is never confused with the end of a reply
CAUSAL_SPECIALS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
ENCODER_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

_WORDS = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "answer",
    "question",
    "user",
    "assistant",
    "system",
    "hello",
    "thanks",
    "please",
    "good",
    "bad",
    "yes",
    "cat",
    "dog",
    "red",
    "blue",
    "green",
    "apple",
    "paris",
    "france",
    "capital",
    "math",
    "sum",
    "plus",
    "minus",
    "equals",
    "think",
    "reason",
    "because",
]


def _corpus(extra: list[str] | None, n_lines: int = 400, seed: int = 0) -> list[str]:
    """Generated sentences plus chat markup, so common words and template pieces become single tokens."""
    rng = random.Random(seed)
    lines = [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14))) + rng.choice(".?!")
        for _ in range(n_lines)
    ]
    lines += [f"{a} + {b} = {a + b}" for a in range(20) for b in range(0, 20, 3)]
    lines += [
        "### Instruction:\n### Input:\n### Response:\n",
        "<answer>42</answer> <think>ok</think>",
        "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>",
        "<start_of_turn>model\n<end_of_turn>\n",
    ]
    return lines + list(extra or [])


def build_tokenizer(
    vocab_corpus: list[str] | None = None, *, vocab_size: int = 600
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (no unknown tokens) with ChatML specials and the ChatML chat template."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    # trim_offsets=False: offsets cover the leading space too, so char spans map to tokens without gaps
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=CAUSAL_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(vocab_corpus), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
        chat_template=CHATML_TEMPLATE,
        model_max_length=2048,
    )


#: Wider than transformers' 0.02: at hidden size 64 a 0.02 output head caps every logit near +-1, so an
#: adapter (which leaves the head frozen) could never make a confident prediction and the loss would stall.
INIT_RANGE = 0.2


def _causal_config(arch: str, tokenizer: PreTrainedTokenizerFast):
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    }
    if arch == "llama":
        return LlamaForCausalLM, LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            tie_word_embeddings=False,
            initializer_range=INIT_RANGE,
            **ids,
        )
    if arch == "qwen2":
        return Qwen2ForCausalLM, Qwen2Config(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            **ids,
        )
    if arch == "gpt2":
        return GPT2LMHeadModel, GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=2048, **ids)
    raise ValueError(f"unknown tiny arch '{arch}': choose llama, qwen2 or gpt2")


def build_tiny_model(
    dest_dir: str | Path, *, arch: str = "llama", vocab_corpus: list[str] | None = None, seed: int = 0
) -> Path:
    """Save a tiny random causal LM (hidden 64, 2 layers) and its tokenizer as a normal HF folder.

    >>> path = build_tiny_model(tmp_path / "tiny")
    >>> AutoModelForCausalLM.from_pretrained(path); AutoTokenizer.from_pretrained(path)
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_corpus)
    cls, config = _causal_config(arch, tokenizer)
    torch.manual_seed(seed)  # same seed, same weights: tests compare runs
    model = cls(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def build_encoder_tokenizer(vocab_corpus: list[str] | None = None, *, vocab_size: int = 600):
    """A WordPiece tokenizer wrapping each text in [CLS] ... [SEP], as BERT-style classifiers expect."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=ENCODER_SPECIALS, show_progress=False
    )
    tok.train_from_iterator(_corpus(vocab_corpus), trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def build_tiny_encoder(
    dest_dir: str | Path, *, num_labels: int = 1, vocab_corpus: list[str] | None = None, seed: int = 0
) -> Path:
    """Save a tiny random BERT sequence classifier (one score by default: a reward model backbone)."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = build_encoder_tokenizer(vocab_corpus)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        num_labels=num_labels,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest
