"""The models of the sequence workloads, written once against a framework module `fw` (torch or
ember) the way their users write them, from public nn modules only.

- GPT: a decoder-only transformer as in minimal GPT programs (token + position embeddings,
  pre-LayerNorm blocks of causal self-attention and a GELU MLP, a final LayerNorm, a linear head).
- LSTMLanguageModel: the word language model of PyTorch's examples (embedding, nn.LSTM, decoder).
- SineLSTM: the time-series pattern, two LSTMCells stepped by hand over the sequence, then a Linear.

Weights come from `load_seeded_weights`, so both frameworks start from identical values.
"""

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def gpt_classes(fw):
    """The GPT module classes subclassing fw.nn.Module (defined once per framework)."""
    nn = fw.nn
    F = fw.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, embedding_size, heads):
            super().__init__()
            self.heads = heads
            self.embedding_size = embedding_size
            self.query_key_value = nn.Linear(embedding_size, 3 * embedding_size)
            self.projection = nn.Linear(embedding_size, embedding_size)

        def forward(self, x):
            batch, length, channels = x.size()
            query, key, value = self.query_key_value(x).split(self.embedding_size, dim=2)
            head_size = channels // self.heads
            query = query.view(batch, length, self.heads, head_size).transpose(1, 2)
            key = key.view(batch, length, self.heads, head_size).transpose(1, 2)
            value = value.view(batch, length, self.heads, head_size).transpose(1, 2)
            attended = F.scaled_dot_product_attention(query, key, value, is_causal=True)
            attended = attended.transpose(1, 2).contiguous().view(batch, length, channels)
            return self.projection(attended)

    class FeedForward(nn.Module):
        def __init__(self, embedding_size):
            super().__init__()
            self.expand = nn.Linear(embedding_size, 4 * embedding_size)
            self.gelu = nn.GELU()
            self.project = nn.Linear(4 * embedding_size, embedding_size)

        def forward(self, x):
            return self.project(self.gelu(self.expand(x)))

    class Block(nn.Module):
        def __init__(self, embedding_size, heads):
            super().__init__()
            self.attention_norm = nn.LayerNorm(embedding_size)
            self.attention = CausalSelfAttention(embedding_size, heads)
            self.feed_forward_norm = nn.LayerNorm(embedding_size)
            self.feed_forward = FeedForward(embedding_size)

        def forward(self, x):
            x = x + self.attention(self.attention_norm(x))
            return x + self.feed_forward(self.feed_forward_norm(x))

    class GPT(nn.Module):
        def __init__(self, vocabulary, block_size, embedding_size, heads, layers):
            super().__init__()
            self.block_size = block_size
            self.token_embedding = nn.Embedding(vocabulary, embedding_size)
            self.position_embedding = nn.Embedding(block_size, embedding_size)
            self.blocks = nn.ModuleList([Block(embedding_size, heads) for _ in range(layers)])
            self.final_norm = nn.LayerNorm(embedding_size)
            self.head = nn.Linear(embedding_size, vocabulary, bias=False)

        def forward(self, tokens):
            _, length = tokens.size()
            positions = fw.arange(0, length, dtype=fw.long)
            x = self.token_embedding(tokens) + self.position_embedding(positions)
            for block in self.blocks:
                x = block(x)
            return self.head(self.final_norm(x))

        def generate(self, tokens, new_tokens, generator):
            """Sample new_tokens one at a time, the context cropped to the block size."""
            for _ in range(new_tokens):
                context = tokens[:, -self.block_size:]
                logits = self(context)[:, -1, :]
                probabilities = F.softmax(logits, dim=-1)
                following = fw.multinomial(probabilities, num_samples=1, generator=generator)
                tokens = fw.cat((tokens, following), dim=1)
            return tokens

    return GPT


def build_gpt(fw, vocabulary, block_size, embedding_size, heads, layers):
    return gpt_classes(fw)(vocabulary, block_size, embedding_size, heads, layers)


def gpt_parameter_groups(model, weight_decay):
    """Weight decay on matrices and embeddings only, none on biases and norms (the usual split)."""
    decayed = [param for param in model.parameters() if param.dim() >= 2]
    not_decayed = [param for param in model.parameters() if param.dim() < 2]
    return [{"params": decayed, "weight_decay": weight_decay},
            {"params": not_decayed, "weight_decay": 0.0}]


@functools.lru_cache(maxsize=None)
def lstm_language_model_class(fw):
    nn = fw.nn

    class LSTMLanguageModel(nn.Module):
        def __init__(self, vocabulary, embedding_size, hidden_size, layers, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.encoder = nn.Embedding(vocabulary, embedding_size)
            self.lstm = nn.LSTM(embedding_size, hidden_size, layers, dropout=dropout)
            self.decoder = nn.Linear(hidden_size, vocabulary)
            self.vocabulary = vocabulary

        def forward(self, tokens, hidden):
            embedded = self.dropout(self.encoder(tokens))
            output, hidden = self.lstm(embedded, hidden)
            output = self.dropout(output)
            decoded = self.decoder(output)
            return decoded.view(-1, self.vocabulary), hidden

    return LSTMLanguageModel


def build_lstm_language_model(fw, vocabulary, embedding_size, hidden_size, layers, dropout):
    return lstm_language_model_class(fw)(vocabulary, embedding_size, hidden_size, layers,
                                         dropout)


@functools.lru_cache(maxsize=None)
def sine_lstm_class(fw):
    nn = fw.nn

    class SineLSTM(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.first = nn.LSTMCell(1, hidden_size)
            self.second = nn.LSTMCell(hidden_size, hidden_size)
            self.linear = nn.Linear(hidden_size, 1)

        def forward(self, sequence):
            batch = sequence.size(0)
            first_hidden = fw.zeros(batch, self.hidden_size)
            first_cell = fw.zeros(batch, self.hidden_size)
            second_hidden = fw.zeros(batch, self.hidden_size)
            second_cell = fw.zeros(batch, self.hidden_size)
            outputs = []
            for step in sequence.split(1, dim=1):
                first_hidden, first_cell = self.first(step, (first_hidden, first_cell))
                second_hidden, second_cell = self.second(first_hidden,
                                                         (second_hidden, second_cell))
                outputs.append(self.linear(second_hidden))
            return fw.cat(outputs, dim=1)

    return SineLSTM


def build_sine_lstm(fw, hidden_size):
    return sine_lstm_class(fw)(hidden_size)


def seeded_weights(model, seed):
    """{name: array} for every tensor of model's state_dict, drawn from one seeded generator.

    Matrices and embeddings: uniform in +-1/sqrt(last dim); 1-d weights (norm scales): ones;
    other 1-d tensors (biases): uniform in +-1/sqrt(length). The same names and shapes give the
    same values in both frameworks.
    """
    generator = np.random.default_rng(seed)
    arrays = {}
    for name, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if len(shape) == 1 and name.endswith("weight"):
            arrays[name] = np.ones(shape, dtype=np.float32)
            continue
        bound = 1.0 / np.sqrt(shape[-1]) if shape else 1.0
        arrays[name] = generator.uniform(-bound, bound, size=shape).astype(np.float32)
    return arrays


def load_seeded_weights(fw, model, seed):
    model.load_state_dict({name: fw.tensor(array)
                           for name, array in seeded_weights(model, seed).items()})
    return model
