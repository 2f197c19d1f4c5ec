"""A training sampler that makes runs reproducible and resumable mid-epoch, on one device or many."""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Shuffles ``num_samples`` indices with a generator seeded by ``seed + epoch``, gives rank
    ``rank`` of ``world_size`` every world_size-th one (disjoint shares of equal length, a whole
    number of batches: drop_last), and can start an epoch ``skip_batches`` batches in (resume).

    It yields *keys* ``epoch * num_samples + index``: the dataset takes ``key % num_samples`` as the
    photo and seeds its random crop with the key, so what a step sees depends only on (seed, epoch,
    position), not on how the run got there. Lightning calls ``set_epoch`` every epoch.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        super().__init__()
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.per_rank = num_samples // world_size // batch_size * batch_size
        self.epoch = 0
        self.skip_batches = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=g)[self.rank::self.world_size][: self.per_rank]
        start, self.skip_batches = self.skip_batches * self.batch_size, 0  # the skip applies once
        for index in order[start:].tolist():
            yield self.epoch * self.num_samples + index
