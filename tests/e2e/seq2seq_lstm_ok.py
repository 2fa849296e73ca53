"""A small LSTM encoder-decoder (teacher forcing); correct."""
import torch
import torch.nn as nn


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab=50, tgt_vocab=60, emb=32, hidden=64, layers=2):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, emb)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb)
        self.encoder = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
        self.decoder = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, tgt_vocab)

    def forward(self, src, tgt):
        _, (h, c) = self.encoder(self.src_emb(src))
        dec_out, _ = self.decoder(self.tgt_emb(tgt), (h, c))
        return self.out(dec_out)


if __name__ == "__main__":
    model = Seq2Seq()
    src = torch.randint(0, 50, (4, 7))
    tgt = torch.randint(0, 60, (4, 9))
    logits = model(src, tgt)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 60), tgt.reshape(-1))
    loss.backward()
    print(logits.shape)
