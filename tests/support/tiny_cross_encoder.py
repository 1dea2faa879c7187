"""A one-layer BERT cross-encoder whose weights are set by hand, so its ranking is known exactly.

It scores a (query, passage) pair by whether a content word of the query appears again in the
passage. Nothing is trained, so nothing depends on an optimiser converging or on how a library
version sums floats during training; the margins below are orders of magnitude wider than any
rounding difference between versions.

How (H = vocabulary size + 1, one hidden dimension per token, plus one "match" dimension):
- word embeddings are one-hot, position and segment embeddings zero: after the embedding
  LayerNorm each token is the same affine function of its one-hot vector;
- attention queries and keys are zero, so every token attends uniformly to the whole pair, and
  values and the output projection are the identity (scaled): the [CLS] state becomes an affine
  function of the token counts of the pair;
- in that state a content word seen in both query and passage is counted twice, like [SEP], which
  every pair holds exactly twice; a word seen once sits well below [SEP]. One feed-forward unit per
  content word fires (GELU) when the word's count reaches [SEP]'s, and adds to the match dimension;
- the pooler and classifier read the match dimension only.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CONTENT = ["cat", "dog", "fish", "bird", "tree", "mat"]
FUNCTION = ["sat", "ran", "on", "the", "where", "in"]


def build_tiny_cross_encoder(path: Path) -> Path:
    """Write the model and its tokenizer to ``path`` (a directory ``CrossEncoder`` loads)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = SPECIAL + CONTENT + FUNCTION
    vocab = {w: i for i, w in enumerate(words)}
    size = len(words)
    match = size  # the extra hidden dimension the feed-forward units write to
    cfg = BertConfig(
        vocab_size=size,
        hidden_size=size + 1,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=len(CONTENT),
        max_position_embeddings=64,
        type_vocab_size=2,
        num_labels=1,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForSequenceClassification(cfg)
    eye = torch.eye(size + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        emb = model.bert.embeddings
        emb.word_embeddings.weight.copy_(eye[:size])
        emb.LayerNorm.weight.fill_(1.0)
        layer = model.bert.encoder.layer[0]
        layer.attention.self.value.weight.copy_(eye)
        layer.attention.output.dense.weight.copy_(eye * 20.0)  # the counts outweigh the token itself
        layer.attention.output.LayerNorm.weight.fill_(1.0)
        for unit, word in enumerate(CONTENT):
            # fires when count(word) >= count([SEP]) == 2: the word is in the query and the passage
            layer.intermediate.dense.weight[unit, vocab[word]] = 8.0
            layer.intermediate.dense.weight[unit, vocab["[SEP]"]] = -8.0
            layer.intermediate.dense.bias[unit] = 2.0
        layer.output.dense.weight[match, :] = 4.0
        layer.output.LayerNorm.weight.fill_(1.0)
        model.bert.pooler.dense.weight[match, match] = 1.0
        model.classifier.weight[0, match] = 1.0
    model.eval()
    model.save_pretrained(path)
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(path)
    return path
